// Handlers for benchmarks/javascript_concurrency.py: one that waits 20 ms, and one that does a fixed amount of
// arithmetic (about 20 ms of one core here): CPU work that N processes can spread over cores and one cannot.
export const wait = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return event;
};

export const compute = async (event) => {
  let value = 0;
  for (let step = 0; step < 1_200_000; step++) value = (value * 31 + step) | 0;
  return { ...event, value };
};
