// poll_oneoff on streams (issue 16): a stream is reported ready only when a read would not wait,
// so an event loop that polls stdin with a timeout sees its timeouts while the writer is quiet, and
// then the data and the end of input. Checked with guests/pollin.c under the image's sh, whose
// pipelines run side by side (JSPI); without JSPI a stream is still reported ready (its read
// answers), the behaviour of the synchronous mode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { guestWasm } from '../lib/sandbox';
import { box, userlandImage } from '../lib/userland';

const img = userlandImage([[{ path: 'bin/pollin', type: 'file', data: guestWasm('pollin'), mode: 0o755 }]]);

test('a pipe whose writer is quiet times out; its data and its end are ready', () => {
  const r = box(img, ['sh', '-c', '{ sleep 1; echo hi; sleep 0.5; echo there; } | pollin 100']);
  assert.equal(r, { stdout: 'wait\ndata hi\nwait\ndata there\nend\n', stderr: '', status: 0 });
});

test('data already in the pipe, and a pipe whose writer has ended, are ready at once', () => {
  const r = box(img, ['sh', '-c', 'echo x | pollin 60000; pollin 60000 < /dev/null; sleep 0.3 | pollin 60000']);
  assert.equal(r, { stdout: 'data x\nend\nend\nend\n', stderr: '', status: 0 });
});

test('without JSPI the stream is reported ready and its read waits (the synchronous mode)', () => {
  const r = box(img, ['pollin', '100'], { input: 'abc\n' });
  assert.equal(r, { stdout: 'data abc\nend\n', stderr: '', status: 0 });
});

test.run();
