using System.Data.Common;
using System.Text;
using Vigil.Core.Alerts;
using Vigil.Core.Events;

namespace Vigil.Storage;

/// <summary>SQL and row mapping shared by both stores; only how times are stored differs between them.</summary>
internal static class AlertRows
{
    /// <summary>The columns an insert writes; the workflow columns start empty.</summary>
    public const string InsertColumns =
        "alert_id, rule, severity, user_id, ip_address, event_time, detected_at, window_start, window_end, score, summary, evidence, status";

    /// <summary>The columns a read returns, in the order <see cref="Read"/> expects.</summary>
    public const string Columns = InsertColumns + ", status_by, status_at, status_note";

    public const string AuditColumns = "at, actor, role, action, target, detail";

    public const string DeadLetterColumns =
        "source_topic, partition_id, offset_value, reason, detail, message_key, raw, raw_length, received_at";

    /// <summary>
    /// Builds the WHERE / ORDER BY / LIMIT tail of an alert query. Every value goes in as a parameter;
    /// only fixed column names and operators are written into the text.
    /// </summary>
    public static string BuildFilter(AlertQuery query, DbCommand command, Func<DateTimeOffset, object> time)
    {
        var sql = new StringBuilder();
        var clause = " WHERE ";
        void Add(string condition, string name, object value)
        {
            sql.Append(clause).Append(condition);
            clause = " AND ";
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            command.Parameters.Add(p);
        }

        if (query.Severity is { } severity)
        {
            Add("severity = @severity", "@severity", (int)severity);
        }
        if (query.Rule is { } rule)
        {
            Add("rule = @rule", "@rule", rule);
        }
        if (query.Status is { } status)
        {
            Add("status = @status", "@status", (int)status);
        }
        if (query.UserId is { } user)
        {
            Add("user_id = @user", "@user", user);
        }
        if (query.IpAddress is { } ip)
        {
            Add("ip_address = @ip", "@ip", ip);
        }
        if (query.From is { } from)
        {
            Add("event_time >= @from", "@from", time(from));
        }
        if (query.To is { } to)
        {
            Add("event_time < @to", "@to", time(to));
        }
        sql.Append(query.Descending ? " ORDER BY event_time DESC, alert_id DESC" : " ORDER BY event_time, alert_id");
        sql.Append(" LIMIT @limit OFFSET @offset");
        var limit = command.CreateParameter();
        limit.ParameterName = "@limit";
        limit.Value = Math.Clamp(query.Limit, 0, 10_000);
        command.Parameters.Add(limit);
        var offset = command.CreateParameter();
        offset.ParameterName = "@offset";
        offset.Value = Math.Max(0, query.Offset);
        command.Parameters.Add(offset);
        return sql.ToString();
    }

    public static Alert Read(DbDataReader r, Func<DbDataReader, int, DateTimeOffset> time) => new()
    {
        AlertId = r.GetString(0),
        Rule = r.GetString(1),
        Severity = (Severity)r.GetInt32(2),
        UserId = r.IsDBNull(3) ? null : r.GetString(3),
        IpAddress = r.IsDBNull(4) ? null : r.GetString(4),
        EventTime = time(r, 5),
        DetectedAt = time(r, 6),
        WindowStart = r.IsDBNull(7) ? null : time(r, 7),
        WindowEnd = r.IsDBNull(8) ? null : time(r, 8),
        Score = r.GetDouble(9),
        Summary = r.GetString(10),
        Evidence = AlertJson.EvidenceFromJson(r.GetString(11)),
        Status = (AlertStatus)r.GetInt32(12),
        StatusBy = r.IsDBNull(13) ? null : r.GetString(13),
        StatusAt = r.IsDBNull(14) ? null : time(r, 14),
        StatusNote = r.IsDBNull(15) ? null : r.GetString(15),
    };

    public static AuditEntry ReadAudit(DbDataReader r, Func<DbDataReader, int, DateTimeOffset> time) => new(
        time(r, 0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5));

    public static DeadLetter ReadDeadLetter(DbDataReader r, Func<DbDataReader, int, DateTimeOffset> time) => new()
    {
        SourceTopic = r.GetString(0),
        Partition = r.GetInt32(1),
        Offset = r.GetInt64(2),
        Reason = r.GetString(3),
        Detail = r.GetString(4),
        Key = r.IsDBNull(5) ? null : r.GetString(5),
        Raw = (byte[])r.GetValue(6),
        RawLength = r.GetInt32(7),
        ReceivedAt = time(r, 8),
    };
}
