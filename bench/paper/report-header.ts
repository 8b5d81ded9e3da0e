/**
 * The top of a group's report: its title, profile, training budget, recipe and the validation
 * split the results were scored on.
 */
import { relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayName, type ExperimentPlan, type GroupName } from './experiments.ts';
import { plural } from './report-format.ts';
import { usualCentralisedEpochs, type Row } from './report-rows.ts';
import type { ExperimentResult } from './results.ts';

export const GROUP_TITLES: Record<GroupName, string> = {
  table2: 'Table 2: SE-ResNet-BN vs SE-ResNet-GN by batch size (centralised)',
  table3: 'Table 3: classic CNNs and SE-ResNet-BN (centralised) vs FL-SE-ResNet-GN (federated)',
  federate: 'Why federate: the federation vs each hospital alone vs pooled training',
  curves: 'Curves: validation accuracy and loss per epoch or round (Fig. 5 and 6)',
  threshold: "Operating point: the threshold chosen on the hospitals' held-out splits (recall)",
};

const PROTOCOL_DOC = fileURLToPath(new URL('../../docs/paper-protocol.md', import.meta.url));

/** The link to docs/paper-protocol.md from a file in resultsDir. */
export function protocolLink(resultsDir: string): string {
  return relative(resolve(resultsDir), PROTOCOL_DOC).split(sep).join('/');
}

export function header(
  resultsDir: string,
  group: GroupName,
  rows: Row[],
  results: ExperimentResult[],
  plan?: ExperimentPlan,
): string {
  const any = rows.find((r) => r.result)?.result ?? results[0];
  const spec = rows.find((r) => r.spec)?.spec;
  const lines = [`# ${GROUP_TITLES[group]}`, ''];
  const profileName = plan?.profile.name ?? any?.profile;
  const dryRun = plan?.profile.dryRun ?? any?.dryRun;
  if (profileName)
    lines.push(
      `Profile \`${profileName}\`${dryRun ? ' (dry run at tiny scale: the numbers mean nothing)' : ''}; protocol and differences from the paper: [docs/paper-protocol.md](${protocolLink(resultsDir)}).`,
      '',
    );
  const fed = rows.find((r) => r.spec?.federation)?.spec;
  const centralEpochs = usualCentralisedEpochs(rows);
  const shorter = rows
    .filter((r) => r.spec?.kind === 'centralised' && r.spec.settings.epochs !== centralEpochs)
    .map((r) => `${displayName(r.spec!.architecture)} ${r.spec!.settings.epochs}`);
  const budget = [
    centralEpochs !== undefined &&
      `centralised ${plural(centralEpochs, 'epoch')}${shorter.length > 0 ? ` (${shorter.join(', ')})` : ''}`,
    fed?.federation &&
      `federated ${plural(fed.federation.rounds, 'round')} x ${plural(fed.settings.epochs, 'local epoch')} over ${fed.federation.clients} hospitals (FedAvg weighted by images, fraction ${fed.federation.fraction})`,
  ].filter(Boolean);
  if (budget.length > 0) lines.push(`Training: ${budget.join('; ')}.`, '');
  if (spec) {
    const s = spec.settings;
    lines.push(
      `Input ${spec.preprocessing.inputSize} px (${spec.preprocessing.normalization} normalisation${spec.preprocessing.equalize ? ', CLAHE' : ''}), network width ${spec.width}; ${s.optimizer} lr ${s.learningRate}, ${s.schedule} schedule, weight decay ${s.weightDecay}, class balance ${s.classBalancing}, label smoothing ${s.labelSmoothing}, augmentation ${s.augment ? 'on' : 'off'}, seed ${s.seed}; threshold rule ${spec.thresholdRule}.`,
      '',
    );
  }
  if (any) {
    const d = any.data;
    const hashes = new Set(results.map((r) => r.data.valHash));
    lines.push(
      `Scored on the validation split carved from the training data (${d.description}; never trained on): ${d.valImages} images of ${d.valPatients} patients, ${d.valPneumonia} PNEUMONIA; training data ${d.trainImages} images of ${d.trainPatients} patients${d.usedImages < d.images ? ` (a subset: ${d.usedImages} of ${d.images} images)` : ''}. Intervals: ${any.metrics.ciMethod}.` +
        (hashes.size > 1
          ? ' **Warning: the results in this folder were scored on different validation splits.**'
          : ''),
      '',
    );
  }
  return lines.join('\n');
}
