import { finished } from 'node:stream/promises';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { isDicom } from '../../../shared/data/dicom.ts';
import { HttpError } from '../../../shared/service/errors.ts';

export const IMAGE_FIELD = 'image';

/** The content type that announces a DICOM file, of a part or a whole body (RFC 3240). */
export const DICOM_CONTENT_TYPE = 'application/dicom';

/** What the multipart parser may be given at most; MAX_UPLOAD_BYTES bounds each file. */
export const MULTIPART_LIMITS = { files: 4, fields: 16, parts: 20 } as const;

export { PART_HIGH_WATER_MARK } from '../../../shared/service/multipart.ts';
import { PART_HIGH_WATER_MARK } from '../../../shared/service/multipart.ts';

export function notMultipart(): HttpError {
  return new HttpError(
    415,
    'not-multipart',
    `send the X-ray as multipart/form-data with a file field named '${IMAGE_FIELD}' ` +
      `(or a DICOM file as the whole body with content-type ${DICOM_CONTENT_TYPE})`,
  );
}

export function fileTooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'file-too-large', `the upload is larger than ${maxBytes} bytes`, {
    maxBytes,
  });
}

/** A whole request body sent as application/dicom: it must be a DICOM Part 10 file. */
export function readDicomBody(body: Buffer): Buffer {
  if (body.length > 0 && !isDicom(body)) throw notPart10('the body');
  return body;
}

function notPart10(what: string): HttpError {
  return new HttpError(
    415,
    'not-dicom',
    `${what} is announced as ${DICOM_CONTENT_TYPE} but has no 'DICM' at byte 128: only ` +
      'DICOM Part 10 files (preamble and meta header) are supported',
  );
}

/**
 * Reads the `image` file of a multipart request into memory (at most maxBytes), draining any
 * other part so the whole request is consumed. Throws HttpError with a stable code. The bytes
 * decide the format; only a part announced as application/dicom must also be DICOM Part 10.
 */
export async function readImageUpload(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  if (!request.isMultipart()) throw notMultipart();
  let image: Buffer | undefined;
  let imageType = '';
  const otherFields: string[] = [];
  try {
    for await (const part of request.files({ fileHwm: PART_HIGH_WATER_MARK })) {
      if (part.fieldname === IMAGE_FIELD && image === undefined) {
        image = await part.toBuffer();
        imageType = part.mimetype.split(';')[0].trim().toLowerCase();
      } else {
        otherFields.push(part.fieldname);
        await drain(part);
      }
    }
  } catch (error) {
    throw multipartError(error, maxBytes);
  }
  if (image === undefined) {
    throw new HttpError(
      400,
      'missing-image',
      `no file in field '${IMAGE_FIELD}'` +
        (otherFields.length > 0
          ? ` (got file field ${otherFields.map((f) => `'${f}'`).join(', ')})`
          : ''),
    );
  }
  if (imageType === DICOM_CONTENT_TYPE && image.length > 0 && !isDicom(image)) {
    throw notPart10(`the '${IMAGE_FIELD}' part`);
  }
  return image;
}

async function drain(part: MultipartFile): Promise<void> {
  part.file.resume();
  await finished(part.file);
}

/** Maps the multipart parser's errors (and busboy's, which have no status) to our codes. */
export function multipartError(error: unknown, maxBytes: number): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return fileTooLarge(maxBytes);
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new HttpError(400, 'too-many-parts', `too many parts in the form: ${message}`, {
        limits: MULTIPART_LIMITS,
      });
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return notMultipart();
    default:
      return new HttpError(
        400,
        'invalid-multipart',
        `the multipart body cannot be read: ${message}`,
      );
  }
}
