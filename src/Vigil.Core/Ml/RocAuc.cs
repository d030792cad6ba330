namespace Vigil.Core.Ml;

/// <summary>The area under the ROC curve, computed exactly (no binning), as scikit-learn's roc_auc_score.</summary>
public static class RocAuc
{
    /// <summary>
    /// The probability that a random positive scores above a random negative, ties counting one half: the
    /// Mann–Whitney statistic divided by P·N. Higher scores must mean "more likely positive".
    /// </summary>
    /// <returns>The AUC in [0, 1]; NaN when there are no positives or no negatives (the AUC is undefined).</returns>
    /// <exception cref="ArgumentException">The spans differ in length or a score is NaN.</exception>
    public static double Compute(ReadOnlySpan<double> scores, ReadOnlySpan<bool> positives)
    {
        if (scores.Length != positives.Length)
        {
            throw new ArgumentException($"{scores.Length} scores but {positives.Length} labels.", nameof(positives));
        }
        var keys = scores.ToArray();
        var labels = positives.ToArray();
        for (var i = 0; i < keys.Length; i++)
        {
            if (double.IsNaN(keys[i]))
            {
                throw new ArgumentException($"score {i} is NaN.", nameof(scores));
            }
        }
        Array.Sort(keys, labels);

        // Walk groups of equal scores from the lowest: each positive in a group beats every negative below it and
        // ties with half of the negatives in its own group.
        double wins = 0;
        long negativesBelow = 0;
        long positiveCount = 0;
        var start = 0;
        while (start < keys.Length)
        {
            var end = start;
            long groupPositives = 0;
            while (end < keys.Length && keys[end] == keys[start])
            {
                groupPositives += labels[end] ? 1 : 0;
                end++;
            }
            long groupNegatives = end - start - groupPositives;
            wins += groupPositives * (negativesBelow + 0.5 * groupNegatives);
            negativesBelow += groupNegatives;
            positiveCount += groupPositives;
            start = end;
        }
        if (positiveCount == 0 || negativesBelow == 0)
        {
            return double.NaN;
        }
        return wins / ((double)positiveCount * negativesBelow);
    }
}
