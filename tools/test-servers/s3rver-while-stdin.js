// Runs s3rver (a real S3 HTTP server on the file system) for Lamina's tests until its standard input ends: the test
// process that started it holds the other end of that pipe, so the server ends with the test process however that
// ends (a normal exit, an exception, kill -9), and no watchdog process is needed.
//   node s3rver-while-stdin.js DIRECTORY PORT
'use strict';
const S3rver = require('s3rver');

const [directory, port] = process.argv.slice(2);
if (!directory || !port) {
  console.error('usage: node s3rver-while-stdin.js DIRECTORY PORT');
  process.exit(2);
}
const server = new S3rver({ directory, port: Number(port), address: '127.0.0.1', silent: true });
server.run().then(
  address => console.log(`S3rver listening on ${address.address}:${address.port}`),
  error => {
    console.error(`s3rver could not start: ${error.message}`);
    process.exit(1);
  });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
