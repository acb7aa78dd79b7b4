// Loaded (--import) into a worker the fake utilityProcess starts: Electron gives a utility process
// `process.parentPort`, whose messages arrive as `{data}` and wait until a listener is there; here it
// is built on the fork's IPC channel.
const listeners = [];
const waiting = [];
process.on('message', (data) =>
  listeners.length > 0 ? listeners.forEach((listener) => listener({ data })) : waiting.push(data),
);
process.parentPort = {
  postMessage: (message) => process.send(message),
  on: (event, listener) => {
    if (event !== 'message') return;
    listeners.push(listener);
    for (const data of waiting.splice(0)) listener({ data });
  },
};
