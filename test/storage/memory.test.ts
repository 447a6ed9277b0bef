import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { describeBackendConformance } from './conformance.js';

describeBackendConformance('memory', () => Promise.resolve({ backend: new MemoryBackend(), dispose: () => Promise.resolve() }));
