/**
 * The paper's numbers, transcribed: what the reports show beside ours.
 */

/**
 * The paper's Table 3 (official Kermany test set, 624 images, 224 px). Only the federated
 * model has precision, recall and F1 there. The paper's Table 2 numbers are not transcribed
 * here: add them to PAPER_TABLE2 (by architecture and batch size) to show them beside ours.
 */
export const PAPER_TABLE3: Record<
  string,
  Partial<Record<'accuracy' | 'precision' | 'recall' | 'f1', number>>
> = {
  'centralised/alexnet': { accuracy: 0.875 },
  'centralised/vgg16': { accuracy: 0.847 },
  'centralised/resnet18': { accuracy: 0.85 },
  'centralised/se-resnet18-bn': { accuracy: 0.94 },
  'federated/se-resnet18-gn': { accuracy: 0.952, precision: 0.933, recall: 0.974, f1: 0.953 },
};
export const PAPER_TABLE2: Partial<Record<string, number>> = {};
export const PAPER_TEST_SET = 'the official Kermany test set (624 images) at 224 px';
