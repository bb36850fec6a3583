/* schedule: when to try a delivery again. */
#ifndef POSTINO_SCHEDULE_H
#define POSTINO_SCHEDULE_H

/* Delay before the next attempt after `attempts` failed ones (>= 1): min,
 * doubling each time, never more than max. */
long long schedule_retry_delay(unsigned attempts, long long min, long long max);

#endif
