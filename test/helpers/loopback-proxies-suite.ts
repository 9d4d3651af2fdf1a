// The loopback proxies (loopback-proxies.ts) for one jest test file: started before its first
// test, stopped after its last, even when a test failed.
import { afterAll, beforeAll } from '@jest/globals';
import { startLoopbackProxies, type LoopbackProxies, type LoopbackProxiesOptions } from './loopback-proxies';

/** Registers the start and stop; the returned function gives the running proxies inside a test. */
export function loopbackProxiesForSuite(options: LoopbackProxiesOptions): () => LoopbackProxies {
  let proxies: LoopbackProxies | undefined;
  beforeAll(async () => {
    proxies = await startLoopbackProxies(options);
  }, 120_000);
  afterAll(async () => {
    await proxies?.stop();
  }, 30_000);
  return () => {
    if (!proxies) throw new Error('the proxies did not start');
    return proxies;
  };
}
