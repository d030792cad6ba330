using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

/// <summary>The free lists that hand small rings from one user to the next: a handed-on array holds nothing of the
/// user who had it, and the rules see the same windows with and without them.</summary>
public sealed class SmallArrayPoolTests
{
    [Fact]
    public void RentReturn_ReturnedArraysComeBackClearedAndOnlyOfTheirLengthAndUpToTheBound()
    {
        var pool = new SmallArrayPool<string?>(4, capacity: 2);
        var a = pool.Rent();
        a[0] = "x";
        a[3] = "y";
        pool.Return(a);
        pool.Return(new string?[5]); // another length: not taken
        pool.Return(new string?[4]);
        pool.Return(new string?[4]); // past the bound: not taken

        Assert.Equal(2, pool.Count);
        var b = pool.Rent();
        var c = pool.Rent();
        Assert.Equal(0, pool.Count);
        Assert.Contains(a, new[] { b, c });
        Assert.All(a, item => Assert.Null(item));
        Assert.Equal(4, pool.Rent().Length); // an empty pool makes a new one
    }

    [Fact]
    public void RapidWindow_UsersTakingTurnsWithAPool_SameWindowsAsWithout()
    {
        // Three users whose windows fill, overflow their first array, empty and close in turn, with and without a
        // pool: every window must hold exactly the same entries.
        var pool = new SmallArrayPool<RapidWindowEntry>(RapidActivityState.InitialWindow);
        var pooled = new RapidActivityState[3];
        var plain = new RapidActivityState[3];
        var rng = new Random(7);
        for (var step = 0; step < 5_000; step++)
        {
            var u = rng.Next(3);
            var t = step * 1_000L;
            switch (rng.Next(10))
            {
                case 0:
                    pooled[u].CloseWindow(pool);
                    plain[u].CloseWindow();
                    break;
                case 1:
                    pooled[u].DropThrough(t, pool);
                    plain[u].DropThrough(t);
                    break;
                default:
                    pooled[u].AddToWindow(t, $"e-{step}", $"10.0.0.{u}", 121, pool);
                    plain[u].AddToWindow(t, $"e-{step}", $"10.0.0.{u}", 121);
                    break;
            }
            for (var v = 0; v < 3; v++)
            {
                Assert.Equal(plain[v].HoldsWindow, pooled[v].HoldsWindow);
                Assert.Equal(plain[v].WindowCount, pooled[v].WindowCount);
                for (var i = 0; i < plain[v].WindowCount; i++)
                {
                    Assert.Equal(plain[v].WindowEntry(i), pooled[v].WindowEntry(i));
                }
            }
        }
        Assert.True(pool.Count > 0); // the pool was really used
    }

    [Fact]
    public void BehaviorRing_UsersTakingTurnsWithPools_SameActivityAsWithout()
    {
        var pools = new BehaviorState.ActivityRingPools();
        var pooled = new BehaviorState[3];
        var plain = new BehaviorState[3];
        var rng = new Random(11);
        for (var step = 0; step < 5_000; step++)
        {
            var u = rng.Next(3);
            var t = 1_700_000_000_000L + (step * 1_000L);
            switch (rng.Next(12))
            {
                case 0:
                    pooled[u].ReleaseActivity(pools);
                    plain[u].ReleaseActivity();
                    break;
                case 1 when plain[u].ActivityCount > 0:
                    pooled[u].RemoveFirstActivity();
                    plain[u].RemoveFirstActivity();
                    break;
                default:
                    Assert.Equal(plain[u].AddActivity(t, step % 3 == 0, step * 0.5, $"e-{step}"),
                        pooled[u].AddActivity(t, step % 3 == 0, step * 0.5, $"e-{step}", pools));
                    break;
            }
            for (var v = 0; v < 3; v++)
            {
                Assert.Equal(plain[v].HoldsActivity, pooled[v].HoldsActivity);
                Assert.Equal(plain[v].ActivityCount, pooled[v].ActivityCount);
                for (var i = 0; i < plain[v].ActivityCount; i++)
                {
                    Assert.Equal(plain[v].ActivityAt(i), pooled[v].ActivityAt(i));
                }
            }
        }
    }
}
