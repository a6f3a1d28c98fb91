// Desktop notifications for what hub sync raises: polled from main once a minute (and after every
// finished job), each unread one shown once through the Notification API when the user allowed it.
import { api } from '../../api/index.js';

const SHOWN_KEY = 'lighter.notified';

export function startDesktopNotifications(): () => void {
  if (typeof Notification === 'undefined') return () => {};
  let shown = new Set<number>((JSON.parse(sessionStorage.getItem(SHOWN_KEY) ?? '[]') as number[]) ?? []);
  const check = async () => {
    if (Notification.permission !== 'granted') return;
    const unread = await api().hub.notifications({ unreadOnly: true, limit: 50 }).catch(() => []);
    for (const n of unread.filter((x) => !shown.has(x.id))) new Notification('Lighter', { body: n.message, tag: `lighter-${n.id}` });
    shown = new Set([...shown, ...unread.map((n) => n.id)]);
    sessionStorage.setItem(SHOWN_KEY, JSON.stringify([...shown].slice(-500)));
  };
  void check();
  const timer = setInterval(() => void check(), 60_000);
  return () => clearInterval(timer);
}
