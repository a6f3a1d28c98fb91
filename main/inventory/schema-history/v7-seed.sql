-- Data a v7 user may hold (fixture for migration tests: every later schema must keep it readable).
INSERT INTO devices (id, display_name, vessel, site, device_group, tags_json, hub, is_edge, connection_state, last_seen, created_at, updated_at)
VALUES ('ship-01', 'Aurora engine room', 'MV Aurora', NULL, 'north', '{"group":"north","vessel":"MV Aurora"}', 'fleet-hub', 1, 'Disconnected', '2026-11-01T08:00:00.000Z', '2026-10-01T00:00:00.000Z', '2026-11-01T08:00:00.000Z'),
       ('truck-07', NULL, NULL, 'Pilbara', 'mines', '{"group":"mines"}', 'fleet-hub', 1, 'Connected', NULL, '2026-10-01T00:00:00.000Z', '2026-10-01T00:00:00.000Z');
INSERT INTO images (id, repository, tag, config_digest, size, signature_json, source_ref, created_at)
VALUES (1, 'fleetacr.azurecr.io/vessel/telemetry', '1.9', 'sha256:1111111111111111111111111111111111111111111111111111111111111111', 52428800, NULL, 'docker://fleetacr.azurecr.io/vessel/telemetry:1.9', '2026-10-01T00:00:00.000Z'),
       (2, 'fleetacr.azurecr.io/vessel/telemetry', '2.0', '', NULL, NULL, NULL, '2026-10-02T00:00:00.000Z');
INSERT INTO bundles (id, version, size, sha256, state, verified_at, created_at)
VALUES ('b-telemetry-2.0', 3, 1048576, 'sha256:2222222222222222222222222222222222222222222222222222222222222222', 'verified', '2026-10-02T01:00:00.000Z', '2026-10-02T00:30:00.000Z');
INSERT INTO bundle_entries (bundle_id, position, base_image_id, target_image_id) VALUES ('b-telemetry-2.0', 0, 1, 2);
INSERT INTO device_images (device_id, image_id, state, bundle_id, channel, updated_at)
VALUES ('ship-01', 1, 'present', NULL, 'reported', '2026-10-01T00:00:00.000Z'),
       ('ship-01', 2, 'in_transit', 'b-telemetry-2.0', 'usb', '2026-10-03T00:00:00.000Z');
INSERT INTO transfers (bundle_id, device_id, channel, state, bytes_done, bytes_total, attempts, last_error, created_at, updated_at, finished_at)
VALUES ('b-telemetry-2.0', 'ship-01', 'usb', 'succeeded', 1048576, 1048576, 1, NULL, '2026-10-03T00:00:00.000Z', '2026-10-03T00:10:00.000Z', '2026-10-03T00:10:00.000Z');
INSERT INTO deployments (id, name, manifest_json, ordered_by_name, ordered_by_email, state, created_at, updated_at)
VALUES (1, 'north-q4', '{}', 'Ana Lima', 'ana@fleet.example', 'draft', '2026-10-04T00:00:00.000Z', '2026-10-04T00:00:00.000Z');
INSERT INTO deployment_devices (deployment_id, device_id) VALUES (1, 'ship-01');
INSERT INTO audit_log (at, actor, action, target, details_json) VALUES ('2026-10-04T00:00:00.000Z', 'ana', 'deployment-created', 'north-q4', '{}');
UPDATE devices SET local_registry = 'localhost:5001' WHERE id = 'truck-07';

INSERT INTO jobs (id, kind, title, params_json, state, stage, done, total, unit, resource, result_json, error, actor, pid, started_at, finished_at)
VALUES (1, 'bundle-build', 'Build telemetry 2.0', '{"deployment":1}', 'succeeded', 'writing', 1048576, 1048576, 'bytes', NULL, '{"bytes":1048576}', NULL, 'ana', 4242, '2026-10-02T00:20:00.000Z', '2026-10-02T00:30:00.000Z');
UPDATE deployments SET priority = 5, due_at = '2026-10-20T00:00:00.000Z' WHERE id = 1;
INSERT INTO deployment_bundles (deployment_id, device_id, bundle_id, target_image_id, position) VALUES (1, 'ship-01', 'b-telemetry-2.0', 2, 0);
INSERT INTO hubs (name, host_name, policy, added_by, added_at, last_sync_at, last_sync_ok) VALUES ('fleet-hub', 'fleet-hub.azure-devices.net', 'lighter-sync', 'ana', '2026-11-02T00:00:00.000Z', '2026-11-02T01:00:00.000Z', 1);
INSERT INTO hub_twins (hub, device_id, module_id, etag, version, synced_at) VALUES ('fleet-hub', 'ship-01', 'lighter', 'AAAAAAAAAAM=', 3, '2026-11-02T01:00:00.000Z');
INSERT INTO device_keys (device_id, key_id, public_key, source, learnt_at) VALUES ('ship-01', 'sha256:3333333333333333333333333333333333333333333333333333333333333333', 'MCowBQYDK2VwAyEA', 'iothub', '2026-11-02T01:00:00.000Z');
INSERT INTO sync_history (at, source, summary, changes_json, conflicts_json, hub, ok) VALUES ('2026-11-02T01:00:00.000Z', 'iothub', 'hub fleet-hub: no changes', '[]', '[]', 'fleet-hub', 1);
INSERT INTO notifications (at, kind, deployment_id, device_id, image, message, mail_to, mail_state) VALUES ('2026-11-02T01:00:00.000Z', 'image-applied', 1, 'ship-01', 'fleetacr.azurecr.io/vessel/telemetry:2.0', 'applied on ship-01', 'ana@fleet.example', 'queued');
INSERT INTO settings (key, value_json, updated_at) VALUES ('smtp', '{"host":"127.0.0.1","port":2525,"from":"lighter@fleet.example"}', '2026-11-02T00:00:00.000Z');

UPDATE transfers SET deployment_id = 1 WHERE bundle_id = 'b-telemetry-2.0';
INSERT INTO transfers (bundle_id, device_id, channel, state, bytes_done, bytes_total, attempts, last_error, created_at, updated_at, finished_at, deployment_id, paused_at)
VALUES ('b-telemetry-2.0', 'truck-07', 'upload', 'queued', 262144, 1048576, 1, NULL, '2026-10-05T00:00:00.000Z', '2026-10-05T00:01:00.000Z', NULL, 1, '2026-10-05T00:01:00.000Z');
INSERT INTO upload_blocks (blob, block_size, block_index, length, staged_at)
VALUES ('bundles/2222222222222222222222222222222222222222222222222222222222222222.lighter', 262144, 0, 262144, '2026-10-05T00:00:30.000Z');
UPDATE transfers SET usb_set = 'sha256:3333333333333333333333333333333333333333333333333333333333333333' WHERE channel = 'usb';
INSERT INTO usb_sticks (set_id, stick, sticks, deployment_id, bytes, written_at) VALUES ('sha256:3333333333333333333333333333333333333333333333333333333333333333', 1, 1, 1, 1048576, '2026-10-03T00:05:00.000Z');
INSERT INTO trusted_keys (key_id, public_key_pem, device_id, label, added_by, added_at)
VALUES ('sha256:4444444444444444444444444444444444444444444444444444444444444444', '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n', NULL, 'crew laptop MV Aurora', 'ana', '2026-10-03T00:00:00.000Z');
INSERT INTO receipts (id, device_id, bundle_id, version, result, reason, signer, finished_at, received_at)
VALUES ('sha256:5555555555555555555555555555555555555555555555555555555555555555', 'ship-01', 'b-telemetry-2.0', 3, 'applied', NULL, 'sha256:4444444444444444444444444444444444444444444444444444444444444444', '2026-10-05T00:00:00.000Z', '2026-10-06T00:00:00.000Z');
