import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../../../shared/service/errors.ts';
import { loadRunDetail } from '../lib/run-detail.ts';
import { endsRun, type RunEvent } from '../lib/run-events.ts';
import { openEventStream } from '../lib/sse.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import { ErrorResponse, IdParamsSchema, type IdParams } from '../schemas/common.ts';

export const eventRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (app, { ctx }) => {
  app.addHook('preClose', async () => {
    for (const stream of ctx.streams) stream.close();
  });

  app.get<{ Params: IdParams }>(
    '/rounds/:id/events',
    {
      schema: {
        summary: "A run's progress as server-sent events",
        description:
          'text/event-stream. First `snapshot` (the body of GET /rounds/{id}), then ' +
          '`round-started`, `hospital-updated`, `round-completed`, `round-failed`, and finally ' +
          '`run-completed`, `run-failed` or `run-cancelled`, after which the stream ends (at ' +
          'once for a run already finished). Comment lines keep the connection alive.',
        tags: ['rounds'],
        params: IdParamsSchema,
        produces: ['text/event-stream'],
        response: {
          200: {
            description: 'text/event-stream',
            type: 'string',
            examples: [
              'event: snapshot\ndata: {"id":"cmi7x3k2p0000run1example","status":"running",...}\n\n' +
                'event: hospital-updated\ndata: {"round":1,"hospitalId":"cmi7w1a2b0001hospitala",' +
                '"hospital":"st-marys","status":"accepted","failureReason":null}\n\n' +
                'event: round-completed\ndata: {"round":1,"modelId":"cmi7x9q1r0004model2example",' +
                '"version":2,"sha256":"3f6c...","metrics":{...}}\n\n' +
                'event: run-completed\ndata: {"finalModelId":"cmi7x9q1r0004model2example",' +
                '"version":2,"promoted":true,"rounds":1,...}\n\n',
            ],
          },
          404: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await ctx.prisma.trainingRun.findUnique({ where: { id }, select: { id: true } }))) {
        throw new HttpError(404, 'run-not-found', `no training run ${id}`);
      }
      const stream = openEventStream(request, reply, ctx.keepAliveMs);
      ctx.streams.add(stream);
      // Events published while the snapshot is read are held, then sent after it.
      let held: RunEvent[] | null = [];
      const forward = (event: RunEvent): void => {
        stream.send(event.type, { runId: event.runId, ...event.data });
        if (endsRun(event)) stream.close();
      };
      const unsubscribe = ctx.events.subscribe(id, (event) => {
        if (held) held.push(event);
        else forward(event);
      });
      void stream.closed.then(() => {
        unsubscribe();
        ctx.streams.delete(stream);
      });
      try {
        const snapshot = await loadRunDetail(ctx.prisma, id);
        stream.send('snapshot', snapshot);
        if (!snapshot || ['completed', 'failed', 'cancelled'].includes(snapshot.status)) {
          stream.close();
        }
      } catch (error) {
        request.log.error({ err: error }, 'could not read the run for its event stream');
        stream.close();
      }
      const pending = held;
      held = null;
      for (const event of pending) forward(event);
      return reply;
    },
  );
};
