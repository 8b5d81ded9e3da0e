// Models (GET /models): every version with its stage and validation figures; promote a
// candidate or roll back to an earlier production model (POST /models/{id}/promote, admin).
import { html, useEffect, useState } from './vendor/standalone.module.js';
import { aggregator } from './api.js';
import { num, shortId, when } from './format.js';

export function ModelsPage() {
  const [models, setModels] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = () =>
    aggregator('/models')
      .then((body) => setModels(body.models))
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const promote = async (model, verb) => {
    setError(null);
    setNotice(null);
    try {
      const promoted = await aggregator(`/models/${model.id}/promote`, {
        method: 'POST',
        admin: true,
      });
      setNotice(`${verb}: version ${promoted.version} is in production`);
      await load();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`
    <section>
      <h2>Models</h2>
      ${notice && html`<p class="notice">${notice}</p>`}
      ${error && html`<p class="error">${error}</p>`}
      ${
        models === null
          ? html`<p class="muted">Loading...</p>`
          : models.length === 0
            ? html`<p class="muted">No model yet: a run makes one per round.</p>`
            : html`<table class="models">
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>Stage</th>
                    <th>Run / round</th>
                    <th>Model</th>
                    <th>Val. AUC</th>
                    <th>Val. accuracy</th>
                    <th>Threshold</th>
                    <th>Created</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${models.map(
                    (m) => html`<${ModelRow} key=${m.id} model=${m} onPromote=${promote} />`,
                  )}
                </tbody>
              </table>`
      }
    </section>
  `;
}

function ModelRow({ model, onPromote }) {
  const [confirming, setConfirming] = useState(false);
  const validation = (model.metrics && model.metrics.validation) || {};
  const threshold = model.metadata.threshold;
  // Only a promotion archives a model, so an archived one was in production before.
  const verb = model.stage === 'archived' ? 'Roll back' : 'Promote';
  return html`
    <tr data-model=${model.id} data-stage=${model.stage}>
      <td>v${model.version}</td>
      <td><span class="stage ${model.stage}">${model.stage}</span></td>
      <td>
        ${
          model.runId
            ? html`<a href="#/runs/${model.runId}">${shortId(model.runId)}</a> / ${model.roundIndex}`
            : '-'
        }
      </td>
      <td>${model.architecture} ${model.inputSize} px${model.width ? ` / ${model.width}` : ''}</td>
      <td>${num(validation.auc)}</td>
      <td>${num(validation.accuracy)}</td>
      <td>${num(threshold && threshold.threshold)}</td>
      <td>${when(model.createdAt)}</td>
      <td>
        ${
          model.stage === 'production'
            ? html`<span class="muted">in production</span>`
            : confirming
              ? html`<button
                    class="danger"
                    onClick=${() => {
                      setConfirming(false);
                      onPromote(model, verb);
                    }}
                  >
                    Confirm ${verb.toLowerCase()} to v${model.version}
                  </button>
                  <button class="secondary" onClick=${() => setConfirming(false)}>Cancel</button>`
              : html`<button onClick=${() => setConfirming(true)}>${verb}</button>`
        }
      </td>
    </tr>
  `;
}
