using Vigil.Core.Detection;

namespace Vigil.Core.Tests.Detection;

/// <summary>CREDENTIAL_STUFFING keeps its counts (failures per account and per IP, the busiest IP) as failures come and
/// go instead of recounting the ring for every failed login: they must always equal a recount.</summary>
public sealed class CredentialStuffingStateTests
{
    private static void AssertCountsMatchRing(CredentialStuffingState state)
    {
        var accounts = new HashSet<string>();
        var ips = new Dictionary<string, int>();
        for (var i = 0; i < state.Failures.Count; i++)
        {
            var e = state.Failures[i];
            if (e.Subject is { } s)
            {
                accounts.Add(s);
            }
            if (e.Ip is { } ip)
            {
                ips[ip] = ips.GetValueOrDefault(ip) + 1;
            }
        }
        Assert.Equal(accounts.Count, state.DistinctAccounts);
        Assert.Equal(ips.Count, state.DistinctIps);
        Assert.Equal(ips.Count == 0 ? 0 : ips.Values.Max(), state.BusiestIpFailures);
    }

    [Fact]
    public void AddDropRemove_RandomStreamPastCapacity_CountsAlwaysEqualARecount()
    {
        var state = new CredentialStuffingState(capacity: 32);
        var rng = new Random(17);
        var t = 1_700_000_000_000L;
        for (var step = 0; step < 20_000; step++)
        {
            t += rng.Next(0, 3_000);
            switch (rng.Next(10))
            {
                case 0:
                    state.RemoveSubject($"u-{rng.Next(40)}");
                    break;
                case 1:
                    state.DropThrough(t - rng.Next(0, 60_000));
                    break;
                default:
                    // Some late, some without an account or an address, a few busy addresses.
                    var at = t - (rng.Next(8) == 0 ? rng.Next(0, 30_000) : 0);
                    var subject = rng.Next(20) == 0 ? null : $"u-{rng.Next(40)}";
                    var ip = rng.Next(20) == 0 ? null : rng.Next(3) == 0 ? $"10.0.0.{rng.Next(3)}" : $"10.1.{rng.Next(30)}.1";
                    state.Add(new RingEntry(at, $"e-{step}", subject, ip));
                    break;
            }
            AssertCountsMatchRing(state);
        }
    }

    [Fact]
    public void Read_CheckpointedState_CountsRebuiltFromTheRing()
    {
        var state = new CredentialStuffingState(capacity: 16);
        for (var i = 0; i < 20; i++)
        {
            state.Add(new RingEntry(1_000 + i, $"e-{i}", $"u-{i % 7}", $"10.0.0.{i % 3}"));
        }
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            state.Write(writer);
        }
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);

        var back = CredentialStuffingState.Read(reader, 16);

        Assert.Equal(16, back.Failures.Count);
        Assert.Equal(state.DistinctAccounts, back.DistinctAccounts);
        Assert.Equal(state.DistinctIps, back.DistinctIps);
        Assert.Equal(state.BusiestIpFailures, back.BusiestIpFailures);
        AssertCountsMatchRing(back);
    }
}
