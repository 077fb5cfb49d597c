/* Growth statistics of a process's PSS over time: the Theil–Sen slope, which a few outliers (a burst, a freed cache) move little. */
#include "config.h"

#include <stdlib.h>

#include "pymemd-growth.h"

#define HOUR_US (G_GINT64_CONSTANT (3600) * 1000000)

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The median of the slopes between every pair of points (Theil–Sen): a few
 * outliers move it little, unlike a least-squares fit. In units per µs. */
static double
theil_sen_slope (const PymemdGrowthPoint *points, guint n)
{
  g_autoptr(GArray) slopes = g_array_sized_new (FALSE, FALSE, sizeof (double), n * (n - 1) / 2);
  guint m;

  for (guint i = 0; i < n; i++)
    for (guint j = i + 1; j < n; j++)
      if (points[j].t != points[i].t)
        {
          double slope = (points[j].pss - points[i].pss) / (points[j].t - points[i].t);
          g_array_append_val (slopes, slope);
        }
  if (slopes->len == 0)
    return 0;
  qsort (slopes->data, slopes->len, sizeof (double), compare_doubles);
  m = slopes->len / 2;
  if (slopes->len % 2 == 1)
    return g_array_index (slopes, double, m);
  return (g_array_index (slopes, double, m - 1) + g_array_index (slopes, double, m)) / 2;
}

/* The slope of SERIES (oldest first) in bytes per hour, over at most
 * PYMEMD_GROWTH_MAX_POINTS of its points spread evenly. */
double
pymemd_growth_slope_per_hour (const GArray *series)
{
  PymemdGrowthPoint picked[PYMEMD_GROWTH_MAX_POINTS];
  guint n = MIN (series->len, PYMEMD_GROWTH_MAX_POINTS);

  if (n < 2)
    return 0;
  for (guint i = 0; i < n; i++)
    picked[i] = g_array_index (series, PymemdGrowthPoint, (guint64) i * (series->len - 1) / (n - 1));
  return theil_sen_slope (picked, n) * (double) HOUR_US;
}
