import { Type, type Static } from '@sinclair/typebox';
import { DIAGNOSIS_EXAMPLE } from './examples.ts';
import { ModelCalibrationSchema, ModelRefSchema } from './model.ts';

export const DISCLAIMER = 'Research use only. Not a medical device; not for clinical decisions.';

/** The multipart body, for the OpenAPI document (the handler reads and checks the stream). */
export const DiagnoseBodySchema = Type.Object({
  image: Type.String({
    format: 'binary',
    description:
      'A chest X-ray, JPEG or PNG (gray or colour) or DICOM Part 10 (grayscale, uncompressed ' +
      'or JPEG Baseline), at least 32 x 32 pixels',
  }),
});

/** The query of POST /diagnose. */
export const DiagnoseQuerySchema = Type.Object({
  explain: Type.Optional(
    Type.Boolean({
      default: false,
      examples: [true],
      description:
        'Also answer `explanation`: a Grad-CAM heatmap of where the model looked (one extra ' +
        "backward pass per ensemble member, plus rendering a PNG of the upload's size)",
    }),
  ),
});
export type DiagnoseQuery = Static<typeof DiagnoseQuerySchema>;

const Probability = Type.Number({ minimum: 0, maximum: 1 });

export const ExplanationSchema = Type.Object(
  {
    method: Type.Literal('grad-cam', { description: 'Grad-CAM (Selvaraju et al. 2017)' }),
    layer: Type.String({
      description:
        'The layer explained: the last convolutional stage (stage4_block2_out for the ResNets)',
    }),
    grid: Type.Object(
      { width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }) },
      {
        description:
          "The map's own resolution (the layer's spatial size) before it is upsampled: each " +
          'cell covers width/grid.width x height/grid.height pixels of the image',
      },
    ),
    width: Type.Integer({ minimum: 1, description: 'Width of the heatmap = of the upload' }),
    height: Type.Integer({ minimum: 1, description: 'Height of the heatmap = of the upload' }),
    heatmapPng: Type.String({
      contentEncoding: 'base64',
      contentMediaType: 'image/png',
      description:
        'Base64 RGB PNG: the X-ray in gray with the map (0..1, inferno colours, more opaque ' +
        "where hotter) blended over it. For an ensemble, the mean of the members' maps",
    }),
    timingMs: Type.Number({ description: 'The part of the diagnosis timingMs spent explaining' }),
  },
  {
    description:
      'Where the model looked for PNEUMONIA evidence (the gradient of its log-odds at the last ' +
      'conv stage), not a localisation of disease. Present only with explain=true',
  },
);
export type Explanation = Static<typeof ExplanationSchema>;

/** What POST /diagnose's OpenAPI description says about DICOM input. */
export const DICOM_INPUT_DESCRIPTION =
  'DICOM Part 10 files are recognised by the `DICM` marker at byte 128 (a part typed ' +
  '`application/dicom` must have it, else 415 `not-dicom`): grayscale MONOCHROME1/2, 8 or 16 ' +
  'bits (signed or not), Rescale Slope/Intercept, then the VOI LUT, else Window Center/Width, ' +
  'else min-max, frame 1 only; transfer syntaxes Implicit VR LE, Explicit VR LE/BE, Deflated ' +
  'Explicit VR LE and JPEG Baseline (1.2.840.10008.1.2.4.50). Any other transfer syntax answers ' +
  '415 `unsupported-transfer-syntax`, a non-image SOP class 415 `unsupported-sop-class`, no ' +
  'pixel data 415 `no-pixel-data`, other pixel formats 415 `unsupported-pixel-format` (with ' +
  'the UID in `details`). The answer then adds `dicom` (modality, view position, rows, ' +
  'columns); no other tag is answered, logged or stored.';

const codeString = (description: string) =>
  Type.Union([Type.String({ maxLength: 16 }), Type.Null()], { description });

export const DicomSummarySchema = Type.Object(
  {
    modality: codeString(
      "Modality (0008,0060), e.g. 'CR' or 'DX'; null if absent or not a standard defined term",
    ),
    viewPosition: codeString(
      "View Position (0018,5101), e.g. 'PA' or 'AP'; null if absent or not a standard defined term",
    ),
    rows: Type.Integer({ minimum: 1, description: 'Rows (0028,0010): the image height' }),
    columns: Type.Integer({ minimum: 1, description: 'Columns (0028,0011): the image width' }),
  },
  {
    description:
      'Present only when the upload was a DICOM file: what its header says about the image. ' +
      'No other tag (patient, study, institution) is ever answered, logged or stored',
  },
);

export const DiagnosisSchema = Type.Object(
  {
    label: Type.Union([Type.Literal('NORMAL'), Type.Literal('PNEUMONIA')]),
    probability: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'P(PNEUMONIA), in the scale of probabilityScale',
    }),
    probabilities: Type.Object({ NORMAL: Probability, PNEUMONIA: Probability }),
    threshold: Type.Number({
      description:
        'label is PNEUMONIA when probability >= threshold; in the same scale as probability ' +
        '(temperature-scaled too when the model is calibrated, so the label is the raw one)',
    }),
    probabilityScale: Type.Union([Type.Literal('raw'), Type.Literal('temperature-scaled')], {
      description:
        "'temperature-scaled': probability = sigmoid(logit(rawProbability) / " +
        "calibration.temperature), fitted on the hospitals' held-out splits; 'raw': the " +
        "model's own output (a model without calibration)",
    }),
    rawProbability: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: "The model's own P(PNEUMONIA) before temperature scaling (calibrated only)",
      }),
    ),
    rawThreshold: Type.Optional(
      Type.Number({
        description:
          'The threshold in force in the raw scale, GET /models/current (calibrated only)',
      }),
    ),
    calibration: Type.Optional(ModelCalibrationSchema),
    model: ModelRefSchema,
    timingMs: Type.Number({
      description: 'Decoding and inference time on the server, with the explanation if asked',
    }),
    explanation: Type.Optional(ExplanationSchema),
    dicom: Type.Optional(DicomSummarySchema),
    disclaimer: Type.Literal(DISCLAIMER),
  },
  { examples: [DIAGNOSIS_EXAMPLE] },
);
export type Diagnosis = Static<typeof DiagnosisSchema>;
