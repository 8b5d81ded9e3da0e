/**
 * Writes data/dicom/person1033_bacteria_2966.dcm: the sample X-ray
 * data/sample/PNEUMONIA/person1033_bacteria_2966.jpg as a DICOM Part 10 file of the kind an
 * X-ray machine sends (DX, PA, 12 bits stored in 16, rescale and a window that give back the
 * JPEG's gray values), so the DICOM path of POST /diagnose can be tried without a PACS.
 *
 *   npx tsx scripts/make-dicom-example.ts
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { sixteenBitFromJpeg } from '../test/helpers/dicom.ts';

const jpeg = await readFile('data/sample/PNEUMONIA/person1033_bacteria_2966.jpg');
const dicom = await sixteenBitFromJpeg(jpeg, { modality: 'DX', viewPosition: 'PA' });
await mkdir('data/dicom', { recursive: true });
await writeFile('data/dicom/person1033_bacteria_2966.dcm', dicom);
console.log(`data/dicom/person1033_bacteria_2966.dcm: ${dicom.length} bytes`);
