namespace Vigil.Simulator.Tests;

public sealed class FirstAttackKindTests
{
    [Theory]
    [InlineData(AttackKinds.BruteForce)]
    [InlineData(AttackKinds.RapidActivity)]
    public void Messages_FirstAttackKindSet_FirstCampaignIsOfThatKind(AttackKinds kind)
    {
        for (var seed = 1; seed <= 5; seed++)
        {
            var simulation = new Simulation(new SimulatorOptions
            {
                Seed = seed,
                Users = 200,
                Duration = TimeSpan.FromMinutes(40),
                AttackInterval = TimeSpan.FromMinutes(3),
                FirstAttackKind = kind,
            });

            foreach (var _ in simulation.Messages())
            {
            }

            var first = simulation.Campaigns.OrderBy(c => c.CampaignId, StringComparer.Ordinal).First();
            Assert.Equal(kind.ToWireName(), first.Kind);
        }
    }
}
