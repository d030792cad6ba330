namespace Vigil.Core.Ml;

/// <summary>Quality measures of a clustering, as scikit-learn defines them.</summary>
public static class ClusterMetrics
{
    /// <summary>
    /// Inertia: the sum over rows of the squared Euclidean distance to the nearest centroid (scikit-learn's
    /// <c>KMeans.inertia_</c>); <paramref name="assignments"/>, when given, receives each row's nearest centroid.
    /// </summary>
    public static double Inertia(ReadOnlySpan<float> rows, int featureCount, ReadOnlySpan<float> centroids, int k, Span<int> assignments = default)
    {
        Check(rows, featureCount);
        if (k < 1 || centroids.Length != k * featureCount)
        {
            throw new ArgumentException($"Expected {k} centroids of {featureCount} features.", nameof(centroids));
        }
        var n = rows.Length / featureCount;
        double total = 0;
        for (var r = 0; r < n; r++)
        {
            var row = rows.Slice(r * featureCount, featureCount);
            var best = double.PositiveInfinity;
            var bestC = 0;
            for (var c = 0; c < k; c++)
            {
                var d = SquaredDistance(row, centroids.Slice(c * featureCount, featureCount));
                if (d < best)
                {
                    best = d;
                    bestC = c;
                }
            }
            total += best;
            if (!assignments.IsEmpty)
            {
                assignments[r] = bestC;
            }
        }
        return total;
    }

    /// <summary>
    /// The mean silhouette coefficient (b − a) / max(a, b) over rows, with Euclidean distances; rows alone in their
    /// cluster count 0 (scikit-learn's <c>silhouette_score</c>). When there are more rows than
    /// <paramref name="maxRows"/>, a seeded uniform sample of that many is measured (O(n²) otherwise).
    /// </summary>
    /// <returns>In [−1, 1]; NaN when fewer than 2 clusters are present.</returns>
    public static double Silhouette(ReadOnlySpan<float> rows, int featureCount, ReadOnlySpan<int> assignments, int k, int maxRows = 2000, ulong seed = 1)
    {
        Check(rows, featureCount);
        var n = rows.Length / featureCount;
        if (assignments.Length != n)
        {
            throw new ArgumentException("One assignment per row.", nameof(assignments));
        }
        var pick = new int[n];
        for (var i = 0; i < n; i++)
        {
            pick[i] = i;
        }
        var m = n;
        if (n > maxRows)
        {
            // Partial Fisher–Yates: the first maxRows entries become a uniform sample.
            var rng = new Xoshiro256(seed);
            for (var i = 0; i < maxRows; i++)
            {
                var j = i + rng.NextInt(n - i);
                (pick[i], pick[j]) = (pick[j], pick[i]);
            }
            m = maxRows;
        }
        var sizes = new int[k];
        for (var i = 0; i < m; i++)
        {
            sizes[assignments[pick[i]]]++;
        }
        var present = 0;
        foreach (var s in sizes)
        {
            present += s > 0 ? 1 : 0;
        }
        if (present < 2)
        {
            return double.NaN;
        }
        var sums = new double[k];
        double total = 0;
        for (var i = 0; i < m; i++)
        {
            Array.Clear(sums);
            var ri = rows.Slice(pick[i] * featureCount, featureCount);
            for (var j = 0; j < m; j++)
            {
                if (i != j)
                {
                    sums[assignments[pick[j]]] += Math.Sqrt(SquaredDistance(ri, rows.Slice(pick[j] * featureCount, featureCount)));
                }
            }
            var own = assignments[pick[i]];
            if (sizes[own] < 2)
            {
                continue;
            }
            var a = sums[own] / (sizes[own] - 1);
            var b = double.PositiveInfinity;
            for (var c = 0; c < k; c++)
            {
                if (c != own && sizes[c] > 0)
                {
                    b = Math.Min(b, sums[c] / sizes[c]);
                }
            }
            var denominator = Math.Max(a, b);
            total += denominator > 0 ? (b - a) / denominator : 0;
        }
        return total / m;
    }

    /// <summary>The value below which <paramref name="p"/> (0–100) percent of <paramref name="sorted"/> lies, interpolated linearly as numpy's default.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.IsEmpty)
        {
            return double.NaN;
        }
        var pos = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (pos - lo));
    }

    private static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (var f = 0; f < a.Length; f++)
        {
            var diff = (double)a[f] - b[f];
            sum += diff * diff;
        }
        return sum;
    }

    private static void Check(ReadOnlySpan<float> rows, int featureCount)
    {
        if (featureCount < 1 || rows.Length % featureCount != 0)
        {
            throw new ArgumentException($"Rows must be whole rows of {featureCount} features.", nameof(rows));
        }
    }
}
