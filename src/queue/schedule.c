#include "schedule.h"

long long schedule_retry_delay(unsigned attempts, long long min, long long max)
{
    long long d = min > 0 ? min : 1;
    for (unsigned i = 1; i < attempts && d < max; i++)
        d *= 2;
    return d > max ? max : d;
}
