import { ARCHITECTURE_NAMES, ARCHITECTURES, buildModel } from '../../model/architectures.ts';
import { numberOpt, flag, parseCommandArgs } from '../options.ts';
import { printJson } from '../output.ts';

export const MODELS_HELP = `fedxray models [--size 224] [--width 64] [--json]
  Lists the architectures with their parameter counts for an input size.`;

export async function modelsCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    size: { type: 'string' },
    width: { type: 'string' },
    json: { type: 'boolean' },
  });
  const inputSize = numberOpt(args, 'size', 224, { integer: true, min: 32, max: 1024 });
  const width = numberOpt(args, 'width', 64, { integer: true, min: 4, max: 256 });
  const rows = ARCHITECTURE_NAMES.map((name) => {
    const model = buildModel(name, { inputSize, width });
    const row = {
      architecture: name,
      parameters: model.countParams(),
      layers: model.layers.length,
      inputShape: [inputSize, inputSize, 1],
      description: ARCHITECTURES[name].description,
    };
    model.dispose();
    return row;
  });
  if (flag(args, 'json')) {
    printJson({ inputSize, width, architectures: rows });
  } else {
    process.stdout.write(`Architectures at ${inputSize}x${inputSize}x1 (width ${width}):\n`);
    for (const r of rows) {
      process.stdout.write(
        `  ${r.architecture.padEnd(16)} ${r.parameters.toLocaleString('en-US').padStart(12)} params  ${r.description}\n`,
      );
    }
  }
  return 0;
}
