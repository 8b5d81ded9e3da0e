/**
 * POST /diagnose with DICOM uploads (files from test/helpers/dicom.ts, made from the sample
 * JPEGs): the same diagnosis as the source JPEG, the `dicom` summary, the 415 refusals, and
 * no patient data in any answer or log line, with tf.memory() flat.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { tf } from '../../shared/tf/tf.ts';
import {
  PATIENT,
  SOP,
  TS,
  jpegBaselineFromJpeg,
  monochrome1FromJpeg,
  sixteenBitFromJpeg,
  writeDicom,
} from '../helpers/dicom.ts';
import { sampleJpeg, writeTinyModelDir } from './fixtures.ts';
import { useInferenceApp } from './test-app.ts';

const BOUNDARY = '----fedxrayDicomBoundary';
const logLines: string[] = [];
const stream = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});
const served = useInferenceApp(
  'fedxray-dicom-api-',
  async (dir) => {
    await writeTinyModelDir(join(dir, 'model'));
    return { modelDir: join(dir, 'model') };
  },
  { logger: { level: 'trace', stream } },
);

function diagnose(
  file: Buffer,
  { contentType = 'application/dicom', query = '' } = {},
): Promise<LightMyRequestResponse> {
  const payload = Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="study.dcm"\r\n` +
        `Content-Type: ${contentType}\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
  return served.app.inject({
    method: 'POST',
    url: `/diagnose${query}`,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    payload,
  });
}

function expectNoPatientData(text: string): void {
  for (const value of Object.values(PATIENT)) expect(text).not.toContain(value);
  expect(text).not.toMatch(/Doe|Jane/);
}

describe('POST /diagnose with DICOM', () => {
  it('gives a MONOCHROME1 file the diagnosis of the JPEG it was made from', async () => {
    for (const label of ['NORMAL', 'PNEUMONIA'] as const) {
      const jpeg = sampleJpeg(label);
      const fromJpeg = await diagnose(jpeg, { contentType: 'image/jpeg' });
      expect(fromJpeg.statusCode).toBe(200);
      expect(fromJpeg.json().dicom).toBeUndefined();
      const files = [
        await monochrome1FromJpeg(jpeg, { modality: 'DX', viewPosition: 'PA' }),
        await sixteenBitFromJpeg(jpeg, { modality: 'DX', viewPosition: 'PA' }),
        await jpegBaselineFromJpeg(jpeg, { modality: 'DX', viewPosition: 'PA' }),
      ];
      for (const file of files) {
        const res = await diagnose(file);
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        // The JPEG path may shrink on load before the resize; the rest is the same pixels.
        expect(Math.abs(body.probability - fromJpeg.json().probability)).toBeLessThan(0.02);
        expect(body.dicom).toEqual({ modality: 'DX', viewPosition: 'PA', rows: 256, columns: 256 });
        expectNoPatientData(res.body);
      }
    }
  });

  it('accepts DICOM whatever the part says it is: the bytes decide', async () => {
    const file = await monochrome1FromJpeg(sampleJpeg());
    for (const contentType of ['application/octet-stream', 'image/jpeg', 'text/plain']) {
      const res = await diagnose(file, { contentType });
      expect(res.statusCode).toBe(200);
      expect(res.json().dicom.rows).toBe(256);
    }
  });

  it('answers 415 not-dicom for an application/dicom part without the DICM marker', async () => {
    const res = await diagnose(sampleJpeg());
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('not-dicom');
  });

  it('takes a DICOM file as the whole body with content-type application/dicom', async () => {
    const jpeg = sampleJpeg();
    const file = await monochrome1FromJpeg(jpeg);
    const raw = (payload: Buffer, contentType = 'application/dicom') =>
      served.app.inject({
        method: 'POST',
        url: '/diagnose',
        headers: { 'content-type': contentType },
        payload,
      });
    const inForm = (await diagnose(file)).json();
    for (const contentType of ['application/dicom', 'Application/DICOM; charset=binary']) {
      const res = await raw(file, contentType);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().probability).toBe(inForm.probability);
      expect(res.json().dicom).toEqual(inForm.dicom);
    }
    const notDicom = await raw(jpeg);
    expect([notDicom.statusCode, notDicom.json().error.code]).toEqual([415, 'not-dicom']);
    const tooLarge = await raw(Buffer.concat([file, Buffer.alloc(2 * 1024 * 1024)]));
    expect([tooLarge.statusCode, tooLarge.json().error.code]).toEqual([413, 'file-too-large']);
    const empty = await raw(Buffer.alloc(0));
    expect([empty.statusCode, empty.json().error.code]).toEqual([400, 'empty']);
    // Other raw bodies stay refused as before.
    const rawJpeg = await raw(jpeg, 'image/jpeg');
    expect([rawJpeg.statusCode, rawJpeg.json().error.code]).toEqual([415, 'not-multipart']);
  });

  it('answers 415 naming the transfer syntax or SOP class it refuses', async () => {
    const jpeg2000 = await diagnose(
      writeDicom({ rows: 64, columns: 64, transferSyntax: TS.jpeg2000, fragments: [sampleJpeg()] }),
    );
    expect(jpeg2000.statusCode).toBe(415);
    expect(jpeg2000.json().error).toMatchObject({
      code: 'unsupported-transfer-syntax',
      message: expect.stringContaining(TS.jpeg2000),
      details: { transferSyntaxUid: TS.jpeg2000 },
    });
    const report = await diagnose(
      writeDicom({ rows: 64, columns: 64, sopClassUid: SOP.basicTextSr }),
    );
    expect(report.statusCode).toBe(415);
    expect(report.json().error).toMatchObject({
      code: 'unsupported-sop-class',
      details: { sopClassUid: SOP.basicTextSr },
    });
    const empty = await diagnose(writeDicom({ rows: 64, columns: 64, omitPixelData: true }));
    expect([empty.statusCode, empty.json().error.code]).toEqual([415, 'no-pixel-data']);
    for (const res of [jpeg2000, report, empty]) expectNoPatientData(res.body);
  });

  it('adds a heatmap over the DICOM image with explain=true', async () => {
    const res = await diagnose(await sixteenBitFromJpeg(sampleJpeg()), { query: '?explain=true' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.dicom.columns).toBe(256);
    expect([body.explanation.width, body.explanation.height]).toEqual([256, 256]);
  });

  it('keeps tf.memory().numTensors flat over DICOM uploads, good and bad', async () => {
    const good = await jpegBaselineFromJpeg(sampleJpeg());
    const bad = writeDicom({ rows: 64, columns: 64, transferSyntax: TS.jpeg2000 });
    await diagnose(good);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      expect((await diagnose(good)).statusCode).toBe(200);
      expect((await diagnose(bad)).statusCode).toBe(415);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('never logs a tag value about the patient', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expectNoPatientData(logLines.join('\n'));
  });

  it('describes DICOM in the OpenAPI document', async () => {
    const res = await served.app.inject({ method: 'GET', url: '/docs/json' });
    const operation = res.json().paths['/diagnose'].post;
    expect(operation.description).toContain('DICOM Part 10');
    expect(operation.description).toContain('unsupported-transfer-syntax');
    const schema = operation.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties.dicom.properties)).toEqual([
      'modality',
      'viewPosition',
      'rows',
      'columns',
    ]);
  });
});
