// Segment's Node client (@segment/analytics-node) against a Relay collector: an identify, then an order,
// as a backend sends them (no page, no IP). Usage: node segment_node.mjs <collector URL> <write key>
// Prints one JSON line per HTTP request the client made and one per error, then "closed".
import { Analytics } from "@segment/analytics-node";

const [host, writeKey] = process.argv.slice(2);
// flushAt 2: the identify and the order travel in one /v1/batch, as a busy backend's would.
const analytics = new Analytics({ writeKey, host, flushAt: 2, maxRetries: 0 });
analytics.on("error", (e) => console.log(JSON.stringify({ error: e.code, reason: String(e.reason ?? "") })));
analytics.on("http_request", (r) => console.log(JSON.stringify({ method: r.method, url: r.url })));
analytics.identify({
  userId: "user-42",
  traits: { email: "Jane.Doe@Example.com", phone: "+1 (616) 954-7888", firstName: "Jane" },
});
analytics.track({
  userId: "user-42",
  event: "Order Completed",
  properties: {
    order_id: "ORD-N1",
    total: 129.99,
    currency: "USD",
    products: [{ product_id: "SKU-A", price: 49.99, quantity: 2 }],
  },
});
await analytics.closeAndFlush();
console.log("closed");
