import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeWeights,
  openWeightsFile,
  unpackWeights,
  type WeightsFile,
  type NamedWeights,
  type WeightsManifest,
} from '../../../shared/weights/index.ts';
import { writeFileAtomic } from '../../../shared/weights/store.ts';

const SAFE_SEGMENT = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The aggregator's files under STATE_DIR: models content-addressed by the sha256 of their
 * weights blob (`models/<sha256>.fxw`), hospital updates by run, round and hospital
 * (`updates/<run>/<round>/<hospital>.fxw`). Files are packed weights (shared/weights/envelope.ts),
 * written to a temporary name and renamed, so a crash never leaves half a file under the real
 * name. Paths handed out are relative to STATE_DIR (what the database stores).
 */
export class ModelStore {
  private readonly manifests = new Map<string, WeightsManifest>();

  constructor(readonly stateDir: string) {}

  absolute(storagePath: string): string {
    return path.join(this.stateDir, storagePath);
  }

  /** Stores a packed model under its blob's sha256; an existing identical file is kept. */
  async putModel(
    packed: Buffer,
  ): Promise<{ storagePath: string; sha256: string; sizeBytes: number }> {
    const { manifest } = unpackWeights(packed);
    const storagePath = path.join('models', `${manifest.sha256}.fxw`);
    const file = this.absolute(storagePath);
    const existing = await stat(file).catch(() => undefined);
    if (existing?.size !== packed.length) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, packed);
    }
    return { storagePath, sha256: manifest.sha256, sizeBytes: packed.length };
  }

  /** Where one hospital's update of one round is kept (relative to STATE_DIR). */
  updatePath(runId: string, roundIndex: number, hospitalId: string): string {
    for (const segment of [runId, hospitalId]) {
      if (!SAFE_SEGMENT.test(segment)) {
        throw new Error(`unsafe path segment ${JSON.stringify(segment)}`);
      }
    }
    return path.join('updates', runId, String(roundIndex), `${hospitalId}.fxw`);
  }

  /** Stores one hospital's update of one round (a restarted round overwrites it). */
  async putUpdate(
    runId: string,
    roundIndex: number,
    hospitalId: string,
    packed: Buffer,
  ): Promise<string> {
    const storagePath = this.updatePath(runId, roundIndex, hospitalId);
    const file = this.absolute(storagePath);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, packed);
    return storagePath;
  }

  read(storagePath: string): Promise<Buffer> {
    return readFile(this.absolute(storagePath));
  }

  /**
   * Reads and verifies a stored file: the blob must match its manifest's sha256 and, when
   * given, the sha256 the database recorded for it.
   */
  async readWeights(storagePath: string, expectedSha256?: string): Promise<NamedWeights[]> {
    const { manifest, blob } = unpackWeights(await this.read(storagePath));
    if (expectedSha256 !== undefined && manifest.sha256 !== expectedSha256) {
      throw new Error(
        `${storagePath} holds weights with sha256 ${manifest.sha256}, not the recorded ${expectedSha256}`,
      );
    }
    return decodeWeights(manifest, blob);
  }

  /**
   * Opens a stored file for reading tensor by tensor (shared/weights/weights-file.ts), after
   * the same checks as readWeights; the caller closes it.
   */
  openWeights(storagePath: string, expectedSha256?: string): Promise<WeightsFile> {
    return openWeightsFile(this.absolute(storagePath), expectedSha256);
  }

  /** The manifest of a stored model (names and shapes), cached: models never change. */
  async manifest(storagePath: string): Promise<WeightsManifest> {
    let manifest = this.manifests.get(storagePath);
    if (!manifest) {
      manifest = unpackWeights(await this.read(storagePath)).manifest;
      this.manifests.set(storagePath, manifest);
    }
    return manifest;
  }
}
