/** Tests fake third-party HTTP at the boundary with nock: only loopback (our own servers) stays reachable. */
import nock from 'nock';

/** Blocks every outbound host except 127.0.0.1/localhost (call in beforeAll). */
export function onlyLoopback(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
}

/** Removes interceptors and restores the network (call in afterAll; a stale interceptor breaks the next file). */
export function restoreNet(): void {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
}
