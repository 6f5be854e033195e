/**
 * The load generator in a process of its own, so that it does not share the benchmark's event loop (it still
 * shares the machine's cores with the server it loads): `node bench/origin/autocannon-child.ts <url>
 * <connections> <seconds>` runs autocannon and prints one line of JSON: its result and the CPU it used.
 */
import autocannon from 'autocannon';

const [url = '', connections = '100', seconds = '10'] = process.argv.slice(2);
const result = await autocannon({ url, connections: Number(connections), duration: Number(seconds) });
const cpu = process.cpuUsage();
console.log(JSON.stringify({ result, cpuMs: (cpu.user + cpu.system) / 1000 }));
