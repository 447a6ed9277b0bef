// Runs one scenario and prints its measurement and this process's peak RSS as JSON.
// Usage: child SCENARIO DIR ARG, where ARG is a count or a JSON codec spec.
import { storageTaskCodecRead, storageTaskCodecWrite, rawCodecRead, rawCodecWrite, type CodecSpec } from './codec-scenarios.js';
import { rcloneCryptCopy, resticBackup, storageTaskFromFile, type PeerSpec } from './peer-scenarios.js';
import { scenarios, type Measurement } from './scenarios.js';
import { orchestratorScenarios, type QueueSpec } from './orchestrator-scenarios.js';
import { s3Scenarios, type S3Spec } from './s3-scenarios.js';
import { redisScenarios, type RedisSpec } from './redis-scenarios.js';
import { httpScenarios, type HttpSpec } from './http-scenarios.js';
import { treeScenarios, type TreeSpec } from './tree-scenarios.js';
import { readScenarios, type LargeReadSpec, type ReadSpec } from './read-scenarios.js';

const codecScenarios = { storageTaskCodecRead, storageTaskCodecWrite, rawCodecRead, rawCodecWrite } as const;
const peerScenarios = { storageTaskFromFile, resticBackup, rcloneCryptCopy } as const;

const [name, directory, argument = '0'] = process.argv.slice(2);
if (name === undefined || directory === undefined) throw new Error('usage: child SCENARIO DIR [ARG]');
let measurement: Measurement;
if (name in scenarios) measurement = await scenarios[name as keyof typeof scenarios](directory, Number(argument));
else if (name in codecScenarios) measurement = await codecScenarios[name as keyof typeof codecScenarios](directory, JSON.parse(argument) as CodecSpec);
else if (name in peerScenarios) measurement = await peerScenarios[name as keyof typeof peerScenarios](directory, JSON.parse(argument) as PeerSpec);
else if (name in orchestratorScenarios) measurement = await orchestratorScenarios[name as keyof typeof orchestratorScenarios](directory, JSON.parse(argument) as QueueSpec);
else if (name in s3Scenarios) measurement = await s3Scenarios[name as keyof typeof s3Scenarios](directory, JSON.parse(argument) as S3Spec);
else if (name in redisScenarios) measurement = await redisScenarios[name as keyof typeof redisScenarios](directory, JSON.parse(argument) as RedisSpec);
else if (name in httpScenarios) measurement = await httpScenarios[name as keyof typeof httpScenarios](directory, JSON.parse(argument) as HttpSpec);
else if (name in treeScenarios) measurement = await treeScenarios[name as keyof typeof treeScenarios](directory, JSON.parse(argument) as TreeSpec);
else if (name in readScenarios) measurement = await readScenarios[name as keyof typeof readScenarios](directory, JSON.parse(argument) as ReadSpec & LargeReadSpec);
else throw new Error(`unknown scenario ${name}; known: ${[...Object.keys(scenarios), ...Object.keys(codecScenarios), ...Object.keys(peerScenarios)].join(', ')}`);
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ ...measurement, peakRssMiB })}\n`);
