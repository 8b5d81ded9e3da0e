// Diagnose: sends an X-ray (JPEG, PNG or DICOM) to the inference API's POST /diagnose with
// explain=true and shows the label, the probability and, when the answer has one, the Grad-CAM
// heatmap the API drew over the image. The inference API must list this page's origin in its
// CORS_ORIGINS.
import { html, useEffect, useState } from './vendor/standalone.module.js';
import { diagnose } from './api.js';
import { pct } from './format.js';

const ACCEPT = '.jpg,.jpeg,.png,.dcm,image/jpeg,image/png,application/dicom';

function isBrowserImage(file) {
  return (
    file.type === 'image/jpeg' || file.type === 'image/png' || /\.(jpe?g|png)$/i.test(file.name)
  );
}

export function DiagnosePage({ config }) {
  const [url, setUrl] = useState(config.inferenceUrl || '');
  const [apiKey, setApiKey] = useState('');
  const [file, setFile] = useState(null);
  const [preview, setPreview] = useState(null);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [showHeatmap, setShowHeatmap] = useState(true);

  useEffect(() => {
    if (!file || !isBrowserImage(file)) {
      setPreview(null);
      return undefined;
    }
    const objectUrl = URL.createObjectURL(file);
    setPreview(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);

  const submit = async (event) => {
    event.preventDefault();
    if (!file || !url) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await diagnose(url, file, apiKey));
    } catch (e) {
      setError(
        e instanceof TypeError
          ? `could not reach ${url} (is it running, and does its CORS_ORIGINS include ${location.origin}?)`
          : e.message,
      );
    } finally {
      setBusy(false);
    }
  };

  const heatmap = result && result.explanation && result.explanation.heatmapPng;
  return html`
    <section class="diagnose">
      <h2>Diagnose</h2>
      <form onSubmit=${submit}>
        <label>
          Inference API
          <input
            name="inference-url"
            type="url"
            placeholder="http://127.0.0.1:3200"
            value=${url}
            onInput=${(e) => setUrl(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          API key (if the inference API needs one; kept in this page only)
          <input
            name="api-key"
            type="password"
            autocomplete="off"
            value=${apiKey}
            onInput=${(e) => setApiKey(e.currentTarget.value)}
          />
        </label>
        <label>
          Chest X-ray (JPEG, PNG or DICOM)
          <input
            name="image"
            type="file"
            accept=${ACCEPT}
            onChange=${(e) => {
              setResult(null);
              setFile(e.currentTarget.files[0] || null);
            }}
            required
          />
        </label>
        <button type="submit" disabled=${busy || !file}>
          ${busy ? 'Diagnosing...' : 'Diagnose'}
        </button>
      </form>
      ${error && html`<p class="error">${error}</p>`}
      <div class="diagnosis">
        ${
          // The inference API draws the heatmap over the X-ray itself (at the upload's size),
          // so it replaces the preview; a DICOM file, which the browser cannot show, has only it.
          (preview || heatmap) &&
          html`<div class="xray">
            ${
              heatmap && (showHeatmap || !preview)
                ? html`<img
                    class="heatmap"
                    src="data:image/png;base64,${heatmap}"
                    alt="the X-ray with its Grad-CAM heatmap"
                  />`
                : html`<img class="image" src=${preview} alt="the X-ray" />`
            }
          </div>`
        }
        ${
          result &&
          html`<${Result}
            result=${result}
            heatmap=${heatmap}
            showHeatmap=${showHeatmap}
            onToggle=${() => setShowHeatmap(!showHeatmap)}
          />`
        }
      </div>
    </section>
  `;
}

function Result({ result, heatmap, showHeatmap, onToggle }) {
  const explanation = result.explanation;
  return html`
    <div class="result" data-label=${result.label}>
      <p class="label ${result.label}">${result.label}</p>
      <p>
        P(PNEUMONIA) = <strong class="probability">${pct(result.probability)}</strong>${' '}
        (threshold ${pct(result.threshold)})
      </p>
      <p class="muted small">
        ${`Model ${result.model.version === null ? '' : `v${result.model.version} `}`}
        ${`(${result.model.id.slice(0, 8)}), ${result.timingMs.toFixed(0)} ms`}
      </p>
      ${
        heatmap
          ? html`<p class="small">
              <label class="inline">
                <input type="checkbox" checked=${showHeatmap} onChange=${onToggle} />
                ${` heatmap (${explanation.method}`}
                ${explanation.layer ? `, layer ${explanation.layer})` : ')'}
              </label>
            </p>`
          : html`<p class="muted small">No heatmap in this answer.</p>`
      }
      ${
        result.dicom &&
        html`<p class="muted small">
          ${`DICOM ${result.dicom.columns} x ${result.dicom.rows}`}
          ${result.dicom.modality ? `, ${result.dicom.modality}` : ''}
          ${result.dicom.viewPosition ? ` ${result.dicom.viewPosition}` : ''}
        </p>`
      }
      <p class="disclaimer small">${result.disclaimer}</p>
    </div>
  `;
}
