// Runs one scenario and prints its measurement and this process's peak RSS as JSON.
import { scenarios, type ScenarioName } from './scenarios.js';

const [name, directory, countText] = process.argv.slice(2);
if (name === undefined || directory === undefined || !(name in scenarios)) throw new Error(`usage: child SCENARIO DIR [COUNT]; scenarios: ${Object.keys(scenarios).join(', ')}`);
const measurement = await scenarios[name as ScenarioName](directory, Number(countText ?? 0));
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ ...measurement, peakRssMiB })}\n`);
