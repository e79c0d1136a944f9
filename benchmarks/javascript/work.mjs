// Handlers for benchmarks/javascript_concurrency.py: one that waits 20 ms, one that computes for about 20 ms.
export const wait = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return event;
};

export const compute = async (event) => {
  const end = performance.now() + 20;
  let spins = 0;
  while (performance.now() < end) spins++;
  return { ...event, spins: spins > 0 };
};
