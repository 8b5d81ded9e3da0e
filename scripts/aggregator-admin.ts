// What `npm start` (scripts/start-all.ts) asks of the aggregator's admin API: hospitals
// registered and the inference API's reader token, each kept in STATE_DIR/local.json and used
// again at the next start.

/** A registration's id and token (POST /hospitals, POST /readers or a rotation). */
export interface Issued {
  id: string;
  token: string;
}

/** The name of the inference API's reader on the aggregator. */
export const READER_NAME = 'inference-api';

export class AggregatorAdmin {
  constructor(
    private readonly url: string,
    private readonly adminToken: string,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** A hospital registered now, or the one `known` from an earlier start (409: the name exists). */
  async registerHospital(name: string, baseUrl: string, known?: Issued): Promise<Issued> {
    const res = await this.request('POST', '/hospitals', { name, baseUrl });
    if (res.status === 409 && known) {
      await res.body?.cancel();
      return known;
    }
    return issued(res, `registering ${name}`, 201);
  }

  /**
   * The inference API's reader token: `known` (from an earlier start) while the aggregator
   * accepts it; otherwise (rotated or revoked by hand, a new database) the token of the reader
   * in force of that id, or else of that name, rotated; with neither, a new reader issued, named
   * inference-api (inference-api-2 and so on when a revoked reader holds the name).
   */
  async readerToken(known?: Issued): Promise<Issued> {
    if (known && (await this.weightsTokenAccepted(known.token))) return known;
    const list = await this.request('GET', '/readers');
    if (!list.ok) throw new Error(`GET /readers failed: HTTP ${list.status} ${await list.text()}`);
    const { readers } = (await list.json()) as {
      readers: { id: string; name: string; revokedAt: string | null }[];
    };
    const inForce = readers.filter((r) => r.revokedAt === null);
    const reader =
      inForce.find((r) => r.id === known?.id) ?? inForce.find((r) => r.name === READER_NAME);
    if (reader) {
      this.log(`the reader token of ${reader.name} is not accepted: rotating it`);
      const res = await this.request('POST', `/readers/${reader.id}/token`, {});
      return issued(res, `rotating the reader token of ${reader.name}`, 200);
    }
    const taken = new Set(readers.map((r) => r.name));
    let name = READER_NAME;
    for (let n = 2; taken.has(name); n++) name = `${READER_NAME}-${n}`;
    if (known) this.log(`the reader token kept is not accepted: issuing reader ${name}`);
    const res = await this.request('POST', '/readers', { name });
    return issued(res, `issuing the reader token ${name}`, 201);
  }

  /**
   * Whether the aggregator accepts a token for weights: GET /models/{id}/weights checks the
   * token first, so a model that does not exist answers 404 to a token it accepts and 401 to
   * one it does not.
   */
  private async weightsTokenAccepted(token: string): Promise<boolean> {
    const res = await fetch(`${this.url}/models/no-such-model/weights`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    if (res.status === 404) return true;
    if (res.status === 401) return false;
    throw new Error(`checking the reader token failed: HTTP ${res.status} ${await res.text()}`);
  }

  /** A request with the admin token (and a JSON body, if any). */
  private request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}

/** The id and token of an answer with status `status`; otherwise an Error saying `what` failed. */
async function issued(res: Response, what: string, status: number): Promise<Issued> {
  if (res.status !== status) {
    throw new Error(`${what} failed: HTTP ${res.status} ${await res.text()}`);
  }
  const body = (await res.json()) as Issued;
  return { id: body.id, token: body.token };
}
