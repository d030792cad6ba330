using Vigil.Core.Features;
using Vigil.Core.Ml;
using Vigil.Ml;

namespace Vigil.Server.Ml;

/// <summary>Wires the machine-learning services into the host.</summary>
public static class MlServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="MlOptions"/> (from <paramref name="configuration"/>), the <see cref="ModelRegistry"/>,
    /// the training <see cref="FeatureReservoir"/>, the <see cref="BehaviorScorer"/>, the <see cref="InsightQueue"/> as
    /// <see cref="IInsightSink"/>, the <see cref="SegmentAssigner"/>, <see cref="KnownAnomalies"/>,
    /// <see cref="UserProfileService"/>, and the hosted <see cref="ModelTrainerService"/> and
    /// <see cref="InsightWriterService"/>. Needs IVigilStore, KafkaProducer, VigilOptions and TimeProvider registered.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">Where <c>ml.clustering.k</c>, <c>ml.anomaly.threshold</c> and <c>Vigil:Ml:*</c> are read.</param>
    /// <param name="dataDirectory">The data directory; models go to its <c>models</c> folder unless configured.</param>
    /// <returns>The options read, so the caller can build the stream's operators with them.</returns>
    public static MlOptions AddVigilMl(this IServiceCollection services, IConfiguration configuration, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = MlOptions.From(configuration, dataDirectory);
        services.AddSingleton(options);
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton(new FeatureReservoir(options.SampleSize, (ulong)options.Seed));
        services.AddSingleton(sp => new BehaviorScorer(sp.GetRequiredService<ModelRegistry>(),
            new BehaviorScorerOptions { MinLogins = options.MinLogins, Threshold = options.AnomalyThreshold }));
        services.AddSingleton<InsightQueue>();
        services.AddSingleton<IInsightSink>(sp => sp.GetRequiredService<InsightQueue>());
        services.AddSingleton(sp => new SegmentAssigner(sp.GetRequiredService<ModelRegistry>(), sp.GetRequiredService<IInsightSink>(),
            new SegmentAssignerOptions { MinEvents = options.SegmentMinEvents, ReassessEvery = options.SegmentReassessEvery }));
        services.AddSingleton<KnownAnomalies>();
        services.AddSingleton(new ModelDirectory(options.ModelDirectory));
        services.AddSingleton<UserProfileService>();
        services.AddSingleton<ModelTrainerService>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelTrainerService>());
        services.AddHostedService<InsightWriterService>();
        return options;
    }

    /// <summary>A <see cref="UserFeaturesOperator"/> for one partition, fed into the shared reservoir and segment assigner.</summary>
    public static UserFeaturesOperator CreateUserFeaturesOperator(this IServiceProvider services, Vigil.Core.Geo.IGeoLocator? geo = null,
        UserFeatureOptions? featureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        return new UserFeaturesOperator(featureOptions, geo, services.GetRequiredService<FeatureReservoir>(),
            services.GetRequiredService<SegmentAssigner>());
    }
}
