using Vigil.Core.Ml;

namespace Vigil.Core.Tests.Ml;

/// <summary>Deterministic Gaussian data for the forest tests.</summary>
internal static class TestData
{
    public static float[] Gaussian(int rows, int features, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        var data = new float[rows * features];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)NextGaussian(ref rng);
        }
        return data;
    }

    private static double NextGaussian(ref Xoshiro256 rng)
    {
        // Box–Muller; 1 − u keeps the logarithm away from 0.
        var u = 1.0 - rng.NextDouble();
        var v = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * v);
    }
}
