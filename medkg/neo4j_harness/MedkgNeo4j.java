import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import inet.ipaddr.IPAddressString;
import org.neo4j.cli.AdminTool;
import org.neo4j.cli.ExecutionContext;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;

/**
 * medkg's local Neo4j Community server: the in-process test harness with Bolt on 127.0.0.1
 * and APOC, run as a plain java process (no Docker).
 *
 * <pre>
 * java -cp lib/*:classes MedkgNeo4j WORK_DIR PORT PLUGIN_DIR PAGECACHE [IMPORT_HOME ARGS_FILE]
 * </pre>
 *
 * With IMPORT_HOME and ARGS_FILE the process first runs Neo4j's offline importer
 * ({@code neo4j-admin database import full}, through {@link AdminTool}) into WORK_DIR/data,
 * then starts the server on the imported database: one JVM start instead of two, and the
 * server reuses the classes the importer loaded. It prepares the importer, prints
 * {@code WAITING <epoch ms>}, and waits for a {@code GO} line on stdin, so the caller can write the
 * import files while this JVM starts; then it reads the importer's arguments from ARGS_FILE
 * (one per line; IMPORT_HOME/conf/neo4j.conf names the data folder), prints
 * {@code IMPORTED <epoch ms>} or {@code MEDKG IMPORT FAILED} (and exits 3) before starting the server.
 *
 * WORK_DIR holds the databases ({@code WORK_DIR/data}, kept across restarts) and the harness'
 * per-run folder (logs, deleted on a clean stop). PORT 0 binds a free port. The environment
 * must hold MEDKG_NEO4J_AUTH_USER and MEDKG_NEO4J_AUTH_PASSWORD: authentication is always on
 * and that user gets that password (read from the environment so it never shows in `ps`).
 * Locked down for a shared machine: LOAD CSV cannot read file URLs, Cypher (LOAD CSV, APOC)
 * cannot reach any network address, and only the pure APOC functions in {@link #APOC_ALLOWED}
 * are loaded (no file, network or admin procedures). The HTTP server (Browser) is off.
 * Prints {@code READY bolt://127.0.0.1:PORT} on stdout once Bolt accepts connections.
 */
public final class MedkgNeo4j {
    private MedkgNeo4j() {}

    /** The APOC parts that may load: pure functions on values, no I/O of any kind. */
    static final List<String> APOC_ALLOWED =
            List.of("apoc.version", "apoc.coll.*", "apoc.map.*", "apoc.text.*", "apoc.convert.*",
                    "apoc.number.*");

    public static void main(String[] args) throws Exception {
        if (args.length < 3 || args.length == 5 || args.length > 6) {
            System.err.println("usage: MedkgNeo4j WORK_DIR PORT PLUGIN_DIR [PAGECACHE [IMPORT_HOME ARGS_FILE]]");
            System.exit(2);
        }
        Path workDir = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        Path pluginDir = Path.of(args[2]).toAbsolutePath();
        String pagecache = args.length > 3 ? args[3] : "256m";
        String user = System.getenv("MEDKG_NEO4J_AUTH_USER");
        String password = System.getenv("MEDKG_NEO4J_AUTH_PASSWORD");
        boolean auth = user != null && !user.isEmpty() && password != null && !password.isEmpty();
        if (!auth) {
            System.err.println("MedkgNeo4j: MEDKG_NEO4J_AUTH_USER/PASSWORD must be set (auth is always on)");
            System.exit(2);
        }

        Files.createDirectories(workDir);
        Files.createDirectories(pluginDir);
        if (args.length == 6) {
            importFirst(Path.of(args[4]).toAbsolutePath(), Path.of(args[5]).toAbsolutePath());
        }
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(workDir)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                .withConfig(GraphDatabaseSettings.allow_file_urls, false)
                .withConfig(GraphDatabaseInternalSettings.cypher_ip_blocklist,
                        List.of(new IPAddressString("0.0.0.0/0"), new IPAddressString("::/0")))
                .withConfig(GraphDatabaseSettings.data_directory, workDir.resolve("data"))
                .withConfig(GraphDatabaseSettings.pagecache_memory, parseBytes(pagecache))
                .withConfig(GraphDatabaseSettings.plugin_dir, pluginDir)
                .withConfig(GraphDatabaseSettings.procedure_allowlist, APOC_ALLOWED)
                .withConfig(GraphDatabaseSettings.procedure_unrestricted, List.of())
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                neo4j.close();
            } finally {
                stopped.countDown();
            }
        }, "medkg-neo4j-shutdown"));

        setPassword(neo4j.databaseManagementService().database("system"), user, password);
        URI bolt = neo4j.boltURI();
        System.out.println("READY bolt://127.0.0.1:" + bolt.getPort());
        System.out.flush();
        stopped.await();
    }

    /**
     * Run the offline importer in this JVM once the caller says GO (see the class comment);
     * exits 3 when it fails, 4 when the caller gives up before GO.
     */
    private static void importFirst(Path home, Path argsFile) throws Exception {
        ExecutionContext ctx = new ExecutionContext(home, home.resolve("conf"));
        AdminTool.getCommandLine(ctx); // loads the command classes while the caller writes files
        System.out.println("WAITING " + System.currentTimeMillis());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String go = in.readLine();
        if (!"GO".equals(go)) {
            System.out.println("IMPORT CANCELLED");
            System.out.flush();
            System.exit(4);
        }
        List<String> importArgs = Files.readAllLines(argsFile, StandardCharsets.UTF_8);
        int code = AdminTool.execute(ctx, importArgs.toArray(new String[0]));
        System.out.flush();
        System.err.flush();
        if (code != 0) {
            System.out.println("MEDKG IMPORT FAILED (exit " + code + ")");
            System.out.flush();
            System.exit(3);
        }
        System.out.println("IMPORTED " + System.currentTimeMillis());
        System.out.flush();
    }

    /**
     * Give USER the password, with no forced change at first login (the harness default).
     * On a restart over kept data the user usually has that password already, and Neo4j
     * refuses to "change" a password to itself: that case is the goal reached, not an error.
     */
    private static void setPassword(GraphDatabaseService system, String user, String password) {
        Map<String, Object> params = Map.of("user", user, "password", password);
        String query = "neo4j".equals(user)
                ? "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED"
                : "CREATE OR REPLACE USER $user SET PASSWORD $password CHANGE NOT REQUIRED";
        try {
            system.executeTransactionally(query, params);
        } catch (RuntimeException e) {
            if (!samePassword(e)) {
                throw e;
            }
            system.executeTransactionally("ALTER USER $user SET PASSWORD CHANGE NOT REQUIRED", params);
        }
    }

    private static boolean samePassword(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && message.contains("Old password and new password cannot be the same")) {
                return true;
            }
        }
        return false;
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        long unit = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? ByteUnit.kibiBytes(1) : last == 'm' ? ByteUnit.mebiBytes(1) : ByteUnit.gibiBytes(1);
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * unit;
    }
}
