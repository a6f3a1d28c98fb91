// First start: who is using Lighter here. The choice only picks the home view and the order of
// the navigation; every view stays reachable.
import { useNavigate } from 'react-router';
import { ROLES, useSession } from './session.js';

export function Welcome() {
  const choose = useSession((s) => s.chooseRole);
  const navigate = useNavigate();
  return (
    <div className="page welcome">
      <div className="welcome-card">
        <h2>How will you use Lighter on this machine?</h2>
        <p className="muted">This picks your home view. You can change it any time at the bottom of the sidebar; every view stays available.</p>
        <ul className="roles">
          {ROLES.map((r) => (
            <li key={r.id}>
            <button
              className="role-card"
              onClick={() => {
                choose(r.id);
                void navigate(r.home);
              }}
            >
              <span className="role-name">{r.label}</span>
              <span className="role-summary">{r.summary}</span>
            </button>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
