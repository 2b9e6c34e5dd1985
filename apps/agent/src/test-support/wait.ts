/** Polls until a condition holds: the harness's, shared by every package's tests. */
export { waitFor } from '@facefleet/test-support';
