// The HTTP floor of the submission benchmark: fastify with one route that
// answers 202 and does nothing else. Prints its URL, runs until SIGTERM.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let accepted = 0;
app.post('/tasks', (_request, reply) => {
  accepted += 1;
  return reply.code(202).send({ ids: [String(accepted)] });
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${url}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
