/* Growth statistics of a process's PSS over time: the Theil–Sen slope, which a few outliers (a burst, a freed cache) move little. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One sample: when (µs) and the PSS (bytes). */
typedef struct {
  double t;
  double pss;
} PymemdGrowthPoint;

/* Theil–Sen is quadratic in the points; 100 gives ~5 000 slopes, about
 * 0.3 ms for one process. */
#define PYMEMD_GROWTH_MAX_POINTS 100

/* The slope of SERIES (PymemdGrowthPoint, oldest first, at least 2) in
 * bytes per hour: the median of the slopes between every pair of at most
 * PYMEMD_GROWTH_MAX_POINTS of its points, spread evenly. */
double pymemd_growth_slope_per_hour (const GArray *series);

G_END_DECLS
