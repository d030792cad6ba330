using System.Text;
using Vigil.Core.Events;

namespace Vigil.Core.Tests.Events;

public sealed class ValueAdmissionTests
{
    private static ulong Hash(string key) => Utf8StringCache.HashOf(Encoding.ASCII.GetBytes(key));

    /// <summary>Feeds one key's lookups with the given outcome; returns how many of <paramref name="values"/> were allowed
    /// to look up the cache.</summary>
    private static int Feed(ValueAdmission admission, string key, int values, Func<int, bool> hit)
    {
        int lookedUp = 0;
        for (int i = 0; i < values; i++)
        {
            if (admission.ShouldLookUp(key, Hash(key), out int slot))
            {
                lookedUp++;
                admission.Record(slot, hit(i));
            }
        }

        return lookedUp;
    }

    [Fact]
    public void Key_WhoseValuesNeverRepeat_BypassesTheCacheButForSamples()
    {
        var admission = new ValueAdmission();

        Feed(admission, "orderId", ValueAdmission.Window, _ => false);
        Assert.True(admission.Bypasses("orderId", Hash("orderId")));

        int lookedUp = Feed(admission, "orderId", 1600, _ => false);
        Assert.Equal(1600 / ValueAdmission.SampleEvery, lookedUp);
    }

    [Fact]
    public void Key_WhoseValuesRepeat_KeepsLookingUp()
    {
        var admission = new ValueAdmission();

        // One miss in sixteen: above the admission ratio.
        int lookedUp = Feed(admission, "currency", 5000, i => i % 16 != 0);

        Assert.Equal(5000, lookedUp);
        Assert.False(admission.Bypasses("currency", Hash("currency")));
    }

    [Fact]
    public void Key_WhoseValuesStartRepeating_IsAdmittedAgain()
    {
        var admission = new ValueAdmission();
        Feed(admission, "path", 1000, _ => false);
        Assert.True(admission.Bypasses("path", Hash("path")));

        // Only the samples are counted while bypassed, so coming back takes a window of them.
        Feed(admission, "path", ValueAdmission.SampleEvery * ValueAdmission.Window * 2, _ => true);

        Assert.False(admission.Bypasses("path", Hash("path")));
        Assert.Equal(100, Feed(admission, "path", 100, _ => true));
    }

    [Fact]
    public void ManyKeys_EachKeepsItsOwnVerdict()
    {
        var admission = new ValueAdmission();
        var keys = Enumerable.Range(0, 20).Select(i => $"key{i}").ToArray();

        // Interleaved, as the keys of one event are: even keys never repeat a value, odd ones always do.
        for (int round = 0; round < ValueAdmission.Window * 2; round++)
        {
            for (int k = 0; k < keys.Length; k++)
            {
                if (admission.ShouldLookUp(keys[k], Hash(keys[k]), out int slot))
                {
                    admission.Record(slot, k % 2 == 1);
                }
            }
        }

        // Twenty keys in sixteen sets of four ways: at most a set or two overflows, whose keys keep starting afresh
        // (and so keep looking up, the cache's default).
        int right = keys.Where((k, i) => admission.Bypasses(k, Hash(k)) == (i % 2 == 0)).Count();
        Assert.InRange(right, 16, 20);
        Assert.All(keys.Where((_, i) => i % 2 == 1), k => Assert.False(admission.Bypasses(k, Hash(k))));
    }
}
