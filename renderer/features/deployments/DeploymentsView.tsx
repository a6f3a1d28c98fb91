// Deployments: every deployment set with its state and who ordered it; the selected one shows its
// images and, per target device, how many of them are confirmed on board (the manifest gate).
import { useCallback, useEffect } from 'react';
import { Link, useParams } from 'react-router';
import type { DeploymentState } from '../../../contract/index.js';
import { DEPLOYMENT_STATES } from '../../../core/states.js';
import { useSession } from '../../app/session.js';
import { relativeTime, timestamp } from '../../ui/format.js';
import { Badge, Cmd, Empty, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { DeploymentWork } from './DeploymentWork.js';
import { useDeployment, useDeployments } from './store.js';

const STATES = DEPLOYMENT_STATES;

function DeploymentDetailPanel() {
  const { data: d, error } = useDeployment();
  if (error) return <ErrorBanner error={error} />;
  if (!d) return null;
  return (
    <Section title={`Deployment ${d.name}`} actions={<Badge state={d.state} />}>
      <div className="split">
        <div>
          <h3>Images</h3>
          <Grid columns={['Module', 'Image']} compact>
            <tbody>
              {d.images.map((i) => (
                <tr key={i.module}>
                  <td>{i.module}</td>
                  <td className="mono">{i.image}</td>
                </tr>
              ))}
            </tbody>
          </Grid>
        </div>
        <div>
          <h3>Target devices</h3>
          <Grid columns={['Device', 'Images on board', 'Manifest']} compact>
            <tbody>
              {d.targets.map((t) => {
                const ready = t.imagesPresent === t.imagesNeeded;
                return (
                  <tr key={t.deviceId}>
                    <td>
                      {t.displayName ?? t.deviceId}
                      {t.displayName && <div className="mono muted">{t.deviceId}</div>}
                    </td>
                    <td>
                      <div className="meter" title={`${t.imagesPresent} of ${t.imagesNeeded}`}>
                        <div className={`meter-fill${ready ? ' meter-ok' : ''}`} style={{ width: `${t.imagesNeeded ? (100 * t.imagesPresent) / t.imagesNeeded : 100}%` }} />
                      </div>
                      <span className="muted">
                        {t.imagesPresent} / {t.imagesNeeded}
                      </span>
                    </td>
                    <td>{t.pushedAt ? <Badge state="pushed" /> : ready ? <Badge state="ready" /> : <Badge state="waiting" />}</td>
                  </tr>
                );
              })}
            </tbody>
          </Grid>
        </div>
      </div>
    </Section>
  );
}

export function DeploymentsView() {
  const refreshes = useSession((s) => s.refreshes);
  const { deploymentId } = useParams();
  const selected = deploymentId && /^\d+$/.test(deploymentId) ? Number(deploymentId) : null;
  const list = useDeployments();
  const detail = useDeployment();
  const loadList = list.load;
  const loadDetail = detail.load;
  useEffect(() => {
    void loadList();
  }, [refreshes, loadList]);
  useEffect(() => {
    void loadDetail({ id: selected });
  }, [refreshes, selected, loadDetail]);
  const reloadAll = useCallback(() => {
    void loadList();
    void loadDetail();
  }, [loadList, loadDetail]);

  return (
    <div className="page">
      <ErrorBanner error={list.error} />
      <Section
        title="Deployments"
        actions={
          <>
          <Link to="/deployments/new" className="button button-primary">
            New deployment…
          </Link>
          <label className="filter">
            <span>State</span>
            <select aria-label="Deployment state" value={list.params.state} onChange={(e) => void list.load({ state: e.target.value as DeploymentState | '' })}>
              <option value="">All</option>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          </>
        }
      >
        {list.data && list.data.length === 0 ? (
          list.params.state ? (
            <Empty title={`No ${list.params.state} deployments`} />
          ) : (
            <Empty title="No deployments yet">
              A deployment starts from an IoT Edge deployment manifest; <Cmd>lighter plan --manifest FILE --group GROUP</Cmd> shows what
              each device needs and the bundles to build.
            </Empty>
          )
        ) : (
          list.data && (
            <Grid columns={['Name', 'State', 'Ordered by', { label: 'Devices', num: true }, 'Created', 'Updated']}>
              <tbody>
                {list.data.map((d) => (
                  <tr key={d.id} className={selected === d.id ? 'selected' : undefined} data-deployment={d.id}>
                    <td className="primary">
                      <Link to={`/deployments/${d.id}`} className="row-link">
                        {d.name}
                      </Link>
                    </td>
                    <td>
                      <Badge state={d.state} />
                    </td>
                    <td>
                      {d.orderedBy.name} <span className="muted">&lt;{d.orderedBy.email}&gt;</span>
                    </td>
                    <td className="num">
                      {d.devicesPushed} / {d.devices} pushed
                    </td>
                    <td>{timestamp(d.createdAt)}</td>
                    <td>{relativeTime(d.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </Grid>
          )
        )}
      </Section>
      <DeploymentDetailPanel />
      {selected !== null && <DeploymentWork id={selected} onChanged={reloadAll} />}
    </div>
  );
}
