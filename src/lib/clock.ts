/** The process's one monotonic clock, in milliseconds (DESIGN.md: wallclock only for display and NTP). */
export const monotonicMs = (): number => performance.now();
