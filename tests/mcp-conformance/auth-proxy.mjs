// The conformance suite connects without credentials, and viban's /api/mcp needs its
// token: this forwards every request to viban (VIBAN_URL) with `Authorization: Bearer
// $VIBAN_TOKEN` added and everything else, the Host and Origin included, untouched,
// so viban's own Host and Origin checks still decide. Prints the port it listens on.
import http from "node:http";

const target = new URL(process.env.VIBAN_URL);
const token = process.env.VIBAN_TOKEN;

const server = http.createServer((request, response) => {
  const headers = { ...request.headers, authorization: `Bearer ${token}` };
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: request.method, path: request.url, headers },
    (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on("error", (error) => {
    response.writeHead(502, { "content-type": "text/plain" });
    response.end(`viban did not answer: ${error.message}`);
  });
  request.pipe(upstream);
});

server.listen(0, "127.0.0.1", () => console.log(server.address().port));
