using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Vigil.Core.Alerts;
using Vigil.Core.Detection;
using Vigil.Core.Engine;
using Vigil.Core.Events;
using Vigil.Core.Ml;
using Vigil.Core.Processing;
using Vigil.Kafka;
using Vigil.Server.Api;
using Vigil.Server.Hosting;
using Vigil.Server.Ml;
using Vigil.Server.Pipeline;
using Vigil.Server.Security;
using Vigil.Storage;

namespace Vigil.Server.Cli;

/// <summary><c>vigil serve</c>: the composition root that wires the adapters to the core from configuration.</summary>
public static class ServeCommand
{
    private const string Help = """
        Usage: ./vigil serve [flags]

        Runs the whole pipeline: consumes user-events and notifications, detects threats, stores alerts, and
        serves the dashboard and JSON API. Settings come from appsettings.json, then the environment, then flags.

        With no configuration it runs on embedded defaults: an embedded Kafka-protocol broker, the built-in
        simulator feeding user-events, SQLite under ./data, and http://127.0.0.1:8082.

          --urls URL             where the dashboard and API listen (default http://127.0.0.1:8082)
          --kafka BOOTSTRAP      Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS); default: embedded broker
          --postgres URL         PostgreSQL URL or connection string (env POSTGRES_URL, POSTGRES_USER,
                                 POSTGRES_PASSWORD); default: SQLite
          --data-dir DIR         where SQLite keeps its file (default ./data)
          --simulator on|off     run the built-in simulator (default: on with the embedded broker only)
          --simulator-rate R     mean legitimate events/s of the simulator (default 50)
          --simulator-users N    simulated users (default 2000)
          --seed N               simulator seed (default 1)
          --partitions N         partitions of the topics Vigil creates (default 4)
          --rules FILE           the declarative rules file, hot-reloaded on change (Vigil:Rules:File; default
                                 rules/default.yaml beside the binary; none: built-in rules only)

        Security: on loopback with no API keys, anyone on this machine may read, and a one-time link printed at
        start signs a browser in as admin. Beyond loopback, API keys are mandatory (start-up refuses without them):
        Vigil__Auth__Keys__0__Name=ana Vigil__Auth__Keys__0__Key=<16+ chars> Vigil__Auth__Keys__0__Role=analyst
        or VIGIL_API_KEYS="ana:analyst:<key>;ops:admin:<key>". Roles: viewer (read), analyst (alert workflow, test
        data), admin (everything). Send keys as "Authorization: Bearer <key>" or sign in at /login.html.

        Environment and appsettings.json keys: KAFKA_BOOTSTRAP_SERVERS, POSTGRES_URL, POSTGRES_USER, POSTGRES_PASSWORD,
        Vigil__Kafka__GroupId, Vigil__Kafka__Client__<librdkafka setting> (TLS and SASL pass through),
        Vigil__Topics__UserEvents / Notifications / SecurityAlerts / AnalyticsInsights / Shared, Vigil__Urls,
        Vigil__Storage__DataDirectory, Vigil__Geo__Directory (default ./data/geo, VIGIL_GEO_DIR), Vigil__Simulator__Enabled / Rate / Users / Seed / AttackInterval,
        Vigil__Ingest__MaxFutureSkew, Vigil__Ingest__MaxMessageBytes, Vigil__Ingest__MaxRequestBytes,
        Vigil__Ingest__RequestsPerSecond, PROCESSING_GUARANTEE or Vigil__ProcessingGuarantee (at_least_once, the default,
        or exactly_once: alerts and dead letters go to Kafka in transactions committed with the consumed offsets at
        each checkpoint; Vigil__Kafka__TransactionalId, default vigil-<group>-<host>-<port>, must stay the same across
        restarts of one instance), Vigil__Storage__AlertRetention (90d, closed alerts), Vigil__Storage__RetainOpenAlerts
        (true), Vigil__Storage__DeadLetterRetention (14d), Vigil__Storage__AuditRetention (365d), Vigil__Engine__CheckpointInterval (default 30s; checkpoints go under
        <data dir>/checkpoints, and a partition's offset is committed only once its checkpoint is saved),
        Vigil__Engine__IdleTimeout (default 30s; a partition silent this long stops holding event time back, also in the
        shared stage's reordering of the IP and tenant rules' input),
        Vigil__Rules__File, Vigil__Rules__PollInterval (default 2s; the file is also watched).
        """;

    private static readonly Dictionary<string, string> s_flagToSetting = new(StringComparer.Ordinal)
    {
        ["urls"] = "Vigil:Urls",
        ["kafka"] = "KAFKA_BOOTSTRAP_SERVERS",
        ["postgres"] = "POSTGRES_URL",
        ["data-dir"] = "Vigil:Storage:DataDirectory",
        ["simulator-rate"] = "Vigil:Simulator:Rate",
        ["simulator-users"] = "Vigil:Simulator:Users",
        ["seed"] = "Vigil:Simulator:Seed",
        ["partitions"] = "Vigil:Kafka:Partitions",
        ["rules"] = "Vigil:Rules:File",
    };

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var cli = CliArgs.Parse(args, [.. s_flagToSetting.Keys, "simulator"], ["help"]);
        if (cli.Flag("help"))
        {
            Console.Out.WriteLine(Help);
            return 0;
        }
        if (cli.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{cli.Positionals[0]}'.");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            // The default appsettings.json source reloads on change, which watches the content root (the working
            // directory) and every directory under it: ./data's SQLite and checkpoint writes kept a watcher thread busy.
            // Settings are read at start-up (the sources below do not reload either); the rules file has its own watcher.
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = Directory.GetCurrentDirectory(),
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
            ApplicationName = "Vigil",
        });
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        builder.Configuration.AddJsonFile("appsettings.json", optional: true, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables();
        var flags = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (flag, setting) in s_flagToSetting)
        {
            if (cli.Get(flag) is { } value)
            {
                flags[setting] = value;
            }
        }
        if (cli.Get("simulator") is { } sim)
        {
            flags["Vigil:Simulator:Enabled"] = sim switch
            {
                "on" or "true" => "true",
                "off" or "false" => "false",
                _ => throw new UsageException($"--simulator must be on or off, not '{sim}'."),
            };
        }
        builder.Configuration.AddInMemoryCollection(flags);

        var options = VigilOptions.From(builder.Configuration);
        var auth = AuthSettings.From(builder.Configuration, options);
        builder.WebHost.UseUrls(options.Urls);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });

        // The embedded broker lives as long as the process; with a configured Kafka the topics are ensured instead.
        using var embedded = options.UsesEmbeddedBroker ? EmbeddedBroker.Start() : null;
        if (embedded is not null)
        {
            EmbeddedTopics.Create(embedded, options.Partitions, options);
            // The mock cluster holds every rebalance for the session timeout; its short settings keep hand-overs fast.
            var settings = new Dictionary<string, string>(EmbeddedBroker.ClientSettings, StringComparer.Ordinal);
            foreach (var (key, value) in options.KafkaClientSettings)
            {
                settings[key] = value;
            }
            options = options with { KafkaBootstrapServers = embedded.BootstrapServers, KafkaClientSettings = settings, EmbeddedBrokerStarted = true };
        }
        else
        {
            await KafkaAdmin.EnsureTopicsAsync(KafkaOptionsFactory.Create(options),
            [
                (options.UserEventsTopic, options.Partitions), (options.NotificationsTopic, options.Partitions),
                (options.SecurityAlertsTopic, options.Partitions), (options.AnalyticsInsightsTopic, 1),
                (VigilTopics.DeadLetter(options.UserEventsTopic), 1), (VigilTopics.DeadLetter(options.NotificationsTopic), 1),
                (options.SharedTopic, 1),
            ], ct);
        }

        IVigilStore store;
        string storeDescription;
        if (!string.IsNullOrWhiteSpace(options.PostgresUrl))
        {
            string connectionString;
            try
            {
                connectionString = PostgresConnection.ToConnectionString(options.PostgresUrl, options.PostgresUser, options.PostgresPassword);
            }
            catch (FormatException ex)
            {
                throw new OptionsException("POSTGRES_URL", ex.Message);
            }
            store = new PostgresVigilStore(connectionString);
            storeDescription = "PostgreSQL";
        }
        else
        {
            var path = Path.Combine(options.DataDirectory, "vigil.db");
            store = new SqliteVigilStore(path);
            storeDescription = "SQLite " + path;
        }
        try
        {
            await store.MigrateAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await store.DisposeAsync();
            var setting = options.PostgresUrl is null ? "Vigil:Storage:DataDirectory" : "POSTGRES_URL";
            throw new OptionsException(setting, $"cannot open the {storeDescription} database: {ex.Message}");
        }

        var checkpointDirectory = Path.Combine(options.DataDirectory, "checkpoints");
        if (options.UsesEmbeddedBroker)
        {
            // The embedded broker keeps its data in memory: offsets start again at 0, so old checkpoints would skip
            // the new stream's events. They belong to a broker that no longer exists.
            foreach (var directory in Directory.Exists(checkpointDirectory) ? Directory.GetDirectories(checkpointDirectory, options.CheckpointJobId + ".*") : [])
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        var services = builder.Services;
        // In a cluster the checkpoints live in PostgreSQL, so a partition's state follows it to any instance.
        ICheckpointStore checkpointStore = string.IsNullOrWhiteSpace(options.PostgresUrl)
            ? new LocalDirectoryCheckpointStore(checkpointDirectory)
            : new PostgresCheckpointStore(PostgresConnection.ToConnectionString(options.PostgresUrl, options.PostgresUser, options.PostgresPassword));
        services.AddSingleton(checkpointStore);
        services.AddSingleton(options);
        services.AddSingleton<IVigilStore>(store);
        services.AddSingleton(TimeProvider.System);
        // The geo rules need the DB-IP database (./vigil fetches it); without it they are off, said once, loudly.
        Vigil.Geo.MmdbGeoLocator? geo = null;
        try
        {
            geo = Vigil.Geo.MmdbGeoLocator.Open(Vigil.Geo.GeoDirectory.Resolve(builder.Configuration["Vigil:Geo:Directory"]));
        }
        catch (Vigil.Geo.GeoDatabaseMissingException ex)
        {
            await Console.Error.WriteLineAsync("vigil serve: IMPOSSIBLE_TRAVEL, NEW_COUNTRY and the geo parts of ACCOUNT_TAKEOVER are OFF: " + ex.Message);
        }
        using var geoLifetime = geo;
        var (rulesPath, ruleSource) = LoadRules(builder.Configuration);
        services.AddSingleton(sp => new Rules.RulesService(rulesPath, ruleSource, sp.GetRequiredService<ILogger<Rules.RulesService>>(),
            TimeProvider.System, ReadDuration(builder.Configuration, "Vigil:Rules:PollInterval", TimeSpan.FromSeconds(2)), TimeSpan.FromMilliseconds(250)));
        services.AddHostedService(sp => sp.GetRequiredService<Rules.RulesService>());
        IServiceProvider? rootServices = null;
        // BEHAVIOR_ANOMALY's forest: one for all partitions, learnt from the stream (docs/RULES.md).
        var ml = MlOptions.From(builder.Configuration, options.DataDirectory);
        var behaviorModel = new BehaviorModel(new BehaviorModelOptions { MinLogins = ml.MinLogins, Seed = (ulong)ml.Seed }, ml.AnomalyThreshold);
        services.AddSingleton(behaviorModel);
        // Reads the model back before the ingest starts (hosted services start in order) and saves it after refits.
        services.AddSingleton<BehaviorModelHost>();
        services.AddHostedService(sp => sp.GetRequiredService<BehaviorModelHost>());
        services.AddSingleton(new PipelineOptions
        {
            BehaviorAnomaly = new BehaviorAnomalyOptions
            {
                Threshold = ml.AnomalyThreshold,
                SharedModel = behaviorModel,
                Insights = new DeferredInsightSink(() => (rootServices ?? throw new InvalidOperationException("The host is not built yet."))
                    .GetRequiredService<IInsightSink>()),
            },
            // One value cache for every partition's decoder and HTTP ingest's, four times a decoder's default: 10 MB
            // against 2.6 MB per partition (42 MB with 16), and the values all partitions repeat are kept once.
            Decoder = new EventDecoderOptions
            {
                MaxFutureSkew = options.MaxFutureSkew,
                MaxMessageBytes = options.MaxMessageBytes,
                ShareStringCache = true,
                StringCacheSize = 4 * 65_536,
            },
            BruteForce = new BruteForceOptions(),
            NotificationsTopic = options.NotificationsTopic,
            Watermarks = new PipelineOptions().Watermarks with { IdleTimeout = options.IdleTimeout },
            // Per partition the rules keyed by user; the IP and tenant rules run in one shared pipeline (IngestService).
            Scope = DetectionScope.PerUser,
            Geo = geo,
            Rules = ruleSource,
            // Each partition's pipeline keeps the per-user ML features in its own checkpointed operator.
            ExtraPerUserOperators = () => [(rootServices ?? throw new InvalidOperationException("The host is not built yet."))
                .CreateUserFeaturesOperator(geo)],
        });
        services.AddSingleton<PipelineMetrics>();
        services.AddSingleton<PipelineChannels>();
        services.AddSingleton<PublishedAlerts>();
        services.AddSingleton<AlertBroadcast>();
        services.AddSingleton(sp => new KafkaProducer(KafkaOptionsFactory.Create(options), sp.GetRequiredService<ILogger<KafkaProducer>>()));
        // The sinks' producer: the plain idempotent one, or a transactional one committed at each checkpoint.
        services.AddSingleton<IRecordProducer>(sp => options.ExactlyOnce
            ? new TransactionalProducer(KafkaOptionsFactory.Create(options), options.TransactionalId, options.TransactionTimeout,
                sp.GetRequiredService<ILogger<TransactionalProducer>>())
            : sp.GetRequiredService<KafkaProducer>());
        services.AddHostedService<AlertSink>();
        services.AddHostedService<DeadLetterSink>();
        services.AddHostedService<IngestService>();
        services.AddHostedService<RetentionService>();
        if (options.RunsSimulator)
        {
            services.AddHostedService<LiveSimulatorService>();
        }
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.Converters.Add(AlertJsonConverter.Instance);
            json.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;
        });
        services.AddVigilSecurity(auth);
        services.AddVigilMl(builder.Configuration, options.DataDirectory);
        services.AddSingleton<IOptionsJson, OptionsJson>();
        services.AddIngestRateLimit(options);
        services.AddSingleton(sp => new EventDecoder(sp.GetRequiredService<PipelineOptions>().Decoder, sp.GetRequiredService<TimeProvider>()));
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddHealthChecks()
            .AddCheck("database", new StoreHealthCheck(store), tags: ["ready"])
            .AddCheck("broker", new BrokerHealthCheck(KafkaOptionsFactory.Create(options)), tags: ["ready"]);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));

        await using var app = builder.Build();
        rootServices = app.Services;
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            // Nothing inline and nothing from elsewhere: user names and user agents shown on the page are attacker-controlled.
            headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            await next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapAuthApi();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapHealthChecks("/health/live", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.MapStatusApi();
        app.MapAlertsApi();
        app.MapTestDataApi();
        app.MapPrometheusApi();
        app.MapStreamApi();
        app.MapIngestApi(options);
        app.MapPipelineApi();
        app.MapMlApi();
        app.MapUsersApi();
        app.MapRulesApi();

        await app.StartAsync(ct);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Vigil");
        logger.LogInformation("Vigil is running: dashboard and API on {Urls}; Kafka {Bootstrap}{Embedded}; store {Store}; simulator {Simulator}",
            options.Urls, options.KafkaBootstrapServers, embedded is null ? "" : " (embedded)", storeDescription,
            options.RunsSimulator ? "on" : "off");
        if (auth.DevelopmentLogin)
        {
            // As Jupyter does: reading is open on loopback; this link signs the browser in as admin, once.
            var baseUrl = options.Urls.Split(';')[0].TrimEnd('/');
            Console.Out.WriteLine($"Sign in as admin (once): {baseUrl}/login?token={auth.IssueLoginToken()}");
            Console.Out.Flush();
        }
        else
        {
            logger.LogInformation("API keys: {Count} configured; anonymous viewing {Anonymous}", auth.Keys.Count, auth.AnonymousViewer ? "on" : "off");
        }
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
        logger.LogInformation("Stopping");
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await app.StopAsync(stopTimeout.Token);
        // The host stops waiting for a service after its shutdown timeout, but the ingest loop may still be in its final
        // checkpoint (which flushes the producer) or closing its consumers (whose hand-over produces). The producers
        // are freed when the app is disposed below, so let the loop finish first, within a bound of its own.
        foreach (var service in app.Services.GetServices<IHostedService>())
        {
            if (service is IngestService { ExecuteTask: { IsCompleted: false } running })
            {
                if (await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(15), CancellationToken.None)) != running)
                {
                    logger.LogWarning("The ingest loop did not stop in time; closing the Kafka producers under it");
                }
            }
        }
        app.Services.GetRequiredService<KafkaProducer>().Flush(TimeSpan.FromSeconds(5));
        return 0;
    }

    /// <summary>The declarative rules at start-up: a bad file stops start-up with its line, as any bad setting does.</summary>
    private static (string? Path, Core.Rules.RuleSetSource? Source) LoadRules(IConfiguration configuration)
    {
        var path = Rules.RulesFile.Resolve(configuration["Vigil:Rules:File"]);
        if (path is null)
        {
            return (null, null);
        }
        try
        {
            return (path, new Core.Rules.RuleSetSource(Rules.RulesFile.Load(path)));
        }
        catch (InvalidDataException ex)
        {
            throw new OptionsException("Vigil:Rules:File", ex.Message);
        }
    }

    private static TimeSpan ReadDuration(IConfiguration configuration, string key, TimeSpan fallback)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }
        return Vigil.Core.Durations.TryParse(text, out var value)
            ? value
            : throw new OptionsException(key, $"'{text}' is not a duration such as 2s or 500ms.");
    }

    internal sealed class BrokerHealthCheck(KafkaOptions kafka) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            await KafkaAdmin.ProbeAsync(kafka, TimeSpan.FromSeconds(3), cancellationToken) is { } problem
                ? HealthCheckResult.Unhealthy("Kafka does not answer: " + problem)
                : HealthCheckResult.Healthy("Kafka answers");
    }

    private sealed class StoreHealthCheck(IVigilStore store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            await store.PingAsync(cancellationToken)
                ? HealthCheckResult.Healthy($"{store.Kind} answers")
                : HealthCheckResult.Unhealthy($"{store.Kind} does not answer");
    }
}
