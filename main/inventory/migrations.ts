// The inventory's schema as an ordered list of migrations: entry i takes a database from
// user_version i to i+1. Never edit a shipped entry; append one. Each schema version a user may hold
// is also kept as a fixture (test/fixtures/schema-history/vN.sql) that the migration tests build and upgrade.
export interface Migration {
  /** the version this step produces */
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'devices, images, device images, bundles, deployments, transfers, sync history, state history, audit log',
    sql: `
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  display_name TEXT,
  vessel TEXT,
  site TEXT,
  device_group TEXT,
  tags_json TEXT NOT NULL DEFAULT '{}',
  hub TEXT,
  is_edge INTEGER NOT NULL DEFAULT 0,
  connection_state TEXT,
  last_seen TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX devices_by_group ON devices(device_group);

-- One row per (repository, tag, config digest); '' means not known (yet).
CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL DEFAULT '',
  config_digest TEXT NOT NULL DEFAULT '',
  size INTEGER,
  signature_json TEXT,
  source_ref TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (repository, tag, config_digest)
);
CREATE INDEX images_by_digest ON images(config_digest);

CREATE TABLE bundles (
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('built', 'verified', 'rejected')),
  verified_at TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE bundle_entries (
  bundle_id TEXT NOT NULL REFERENCES bundles(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  base_image_id INTEGER REFERENCES images(id),
  target_image_id INTEGER NOT NULL REFERENCES images(id),
  PRIMARY KEY (bundle_id, position)
);

CREATE TABLE device_images (
  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id),
  state TEXT NOT NULL CHECK (state IN ('in_transit', 'applied', 'present', 'failed')),
  bundle_id TEXT REFERENCES bundles(id),
  channel TEXT CHECK (channel IN ('usb', 'upload', 'registry', 'reported')),
  updated_at TEXT NOT NULL,
  PRIMARY KEY (device_id, image_id)
);
CREATE INDEX device_images_by_image ON device_images(image_id);

CREATE TABLE deployments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  manifest_json TEXT NOT NULL,
  ordered_by_name TEXT NOT NULL,
  ordered_by_email TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'planned', 'transferring', 'ready', 'pushed', 'cancelled')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE deployment_devices (
  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL REFERENCES devices(id),
  pushed_at TEXT,
  PRIMARY KEY (deployment_id, device_id)
);

CREATE TABLE transfers (
  id INTEGER PRIMARY KEY,
  bundle_id TEXT NOT NULL REFERENCES bundles(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  channel TEXT NOT NULL CHECK (channel IN ('usb', 'upload')),
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  bytes_done INTEGER NOT NULL DEFAULT 0,
  bytes_total INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX transfers_by_finished ON transfers(finished_at);

CREATE TABLE sync_history (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('iothub', 'usb-receipt', 'file')),
  summary TEXT NOT NULL,
  changes_json TEXT NOT NULL DEFAULT '[]',
  conflicts_json TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE state_history (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  entity TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX state_history_by_entity ON state_history(entity, entity_id);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  details_json TEXT NOT NULL DEFAULT '{}'
);
`,
  },
  {
    version: 2,
    description: 'per-device local registry, so each device can get its own rewritten manifest',
    sql: `
-- host[:port] of the registry on the device the rewritten manifest pulls from; NULL = the default.
ALTER TABLE devices ADD COLUMN local_registry TEXT;
`,
  },
  {
    version: 3,
    description: 'jobs: long work the app and the CLI ran, with its outcome, so the list survives restarts',
    sql: `
-- One row per job; progress lives in memory while it runs, the row keeps the outcome. pid names
-- the process that ran it, so a later start can tell a crashed run from one still going.
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  params_json TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  stage TEXT,
  done INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  unit TEXT NOT NULL DEFAULT 'bytes' CHECK (unit IN ('bytes', 'items')),
  resource TEXT,
  result_json TEXT,
  error TEXT,
  actor TEXT NOT NULL,
  pid INTEGER,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX jobs_by_state ON jobs(state);
`,
  },
  {
    version: 4,
    description: 'deployment priority and due date; which device of a deployment needs which bundle',
    sql: `
-- The engineer's priority (higher first) and due date order the transfer queue (docs/deployments.md).
ALTER TABLE deployments ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN due_at TEXT;

-- What deployment build decided: per device of a deployment, each bundle it needs (a bundle shared
-- by several devices has one row per device) and the order the device applies them in.
CREATE TABLE deployment_bundles (
  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL REFERENCES devices(id),
  bundle_id TEXT NOT NULL REFERENCES bundles(id),
  target_image_id INTEGER NOT NULL REFERENCES images(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, device_id, bundle_id)
);
CREATE INDEX deployment_bundles_by_bundle ON deployment_bundles(bundle_id);
`,
  },
  {
    version: 5,
    description: 'IoT Hub sync: hubs (never their keys), twin versions seen, device receipt keys, who pushed what, notifications and their mail queue, settings',
    sql: `
-- A hub by name: where it is and which shared access policy; the key is in the secret store.
CREATE TABLE hubs (
  name TEXT PRIMARY KEY,
  host_name TEXT NOT NULL,
  policy TEXT NOT NULL,
  added_by TEXT NOT NULL,
  added_at TEXT NOT NULL,
  last_sync_at TEXT,
  last_sync_ok INTEGER
);

-- The twin ETag each sync last worked through, so the next only reads twins that changed.
CREATE TABLE hub_twins (
  hub TEXT NOT NULL REFERENCES hubs(name) ON DELETE CASCADE,
  device_id TEXT NOT NULL,
  module_id TEXT NOT NULL DEFAULT '',
  etag TEXT NOT NULL,
  version INTEGER,
  synced_at TEXT NOT NULL,
  PRIMARY KEY (hub, device_id, module_id)
);

-- Receipt public keys devices report (module twin) or sign with (USB receipts).
CREATE TABLE device_keys (
  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  source TEXT NOT NULL,
  learnt_at TEXT NOT NULL,
  PRIMARY KEY (device_id, key_id)
);

-- Who pushed a deployment's manifest to a device, and the sha256 of the content pushed.
ALTER TABLE deployment_devices ADD COLUMN pushed_by TEXT;
ALTER TABLE deployment_devices ADD COLUMN pushed_sha256 TEXT;

-- Which hub a sync read, and whether it reached it (a failed sync changes nothing else).
ALTER TABLE sync_history ADD COLUMN hub TEXT;
ALTER TABLE sync_history ADD COLUMN ok INTEGER NOT NULL DEFAULT 1;

-- What the people who ordered deployments are told; mail_state 'queued' waits for a relay.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('image-applied', 'image-failed', 'deployment-ready', 'deployment-pushed')),
  deployment_id INTEGER REFERENCES deployments(id),
  device_id TEXT,
  image TEXT,
  message TEXT NOT NULL,
  sync_id INTEGER REFERENCES sync_history(id),
  read_at TEXT,
  mail_to TEXT,
  mail_state TEXT NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'queued', 'sent')),
  mail_attempts INTEGER NOT NULL DEFAULT 0,
  mail_error TEXT,
  mailed_at TEXT
);
CREATE INDEX notifications_by_mail_state ON notifications(mail_state);

-- Small settings (the SMTP relay: host, port, sender; its password is in the secret store).
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value_json TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`,
  },
  {
    version: 6,
    description: 'uploads: the deployment a transfer serves, a pause flag, and every staged block of a blob upload',
    sql: `
-- The deployment whose priority and due date place the transfer in the queue (docs/transfers.md).
ALTER TABLE transfers ADD COLUMN deployment_id INTEGER REFERENCES deployments(id);
-- Set while an engineer holds the transfer back; the queue passes it over until it is resumed.
ALTER TABLE transfers ADD COLUMN paused_at TEXT;

-- Blocks of a blob upload the storage service has accepted but that are not committed yet. A
-- restart (even after kill -9) sends only the blocks the service does not hold; rows go once the
-- blob is committed.
CREATE TABLE upload_blocks (
  blob TEXT NOT NULL,
  block_size INTEGER NOT NULL,
  block_index INTEGER NOT NULL,
  length INTEGER NOT NULL,
  staged_at TEXT NOT NULL,
  PRIMARY KEY (blob, block_index)
);
`,
  },
  {
    version: 7,
    description: 'USB: sticks written per export set, keys trusted for receipts, receipts taken (replays refused)',
    sql: `
-- The export set a usb transfer belongs to (the index's set id), so a resumed export finds it.
ALTER TABLE transfers ADD COLUMN usb_set TEXT;
-- One row per stick of an export set written and read back; a USB transfer succeeds once every
-- stick holding a piece of its bundle is written.
CREATE TABLE usb_sticks (
  set_id TEXT NOT NULL,
  stick INTEGER NOT NULL,
  sticks INTEGER NOT NULL,
  deployment_id INTEGER NOT NULL REFERENCES deployments(id),
  bytes INTEGER NOT NULL,
  written_at TEXT NOT NULL,
  PRIMARY KEY (set_id, stick)
);
-- Public keys a person enrolled (lighter keys trust) whose receipts shore believes, such as a crew
-- laptop's. Device keys learnt from twins are in device_keys; this data directory's own key needs no row.
CREATE TABLE trusted_keys (
  key_id TEXT PRIMARY KEY,
  public_key_pem TEXT NOT NULL,
  device_id TEXT,
  label TEXT,
  added_by TEXT NOT NULL,
  added_at TEXT NOT NULL
);
-- Every receipt taken, by the sha256 of its signed bytes: the same receipt twice is a replay.
CREATE TABLE receipts (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(id),
  bundle_id TEXT REFERENCES bundles(id),
  version INTEGER,
  result TEXT NOT NULL CHECK (result IN ('applied', 'failed')),
  reason TEXT,
  signer TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  received_at TEXT NOT NULL
);
`,
  },
];

export const LATEST_VERSION = MIGRATIONS.length;
