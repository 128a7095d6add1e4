package lantern.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.geo.GeoModulePlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.join.ParentJoinPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.percolator.PercolatorPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.script.mustache.MustachePlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one real OpenSearch node in this JVM with the modules Lantern needs.
 *
 * <p>Usage: {@code java -cp ... lantern.launcher.LanternNode <home>}. All node settings come from
 * {@code <home>/config/opensearch.yml}, written by the Python side, so this class stays free of
 * policy. Bootstrap is bypassed on purpose: plugins are loaded from the flat classpath, which is
 * what OpenSearch's own test framework does.
 */
public final class LanternNode {

    /** Node's plugin-accepting constructor is protected; this subclass only exposes it. */
    static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> PLUGINS = List.of(
            Netty4Plugin.class,
            CommonAnalysisPlugin.class,
            MapperExtrasPlugin.class,
            PercolatorPlugin.class,
            ReindexPlugin.class,
            PainlessPlugin.class,
            MustachePlugin.class,
            ParentJoinPlugin.class,
            GeoModulePlugin.class,
            IngestCommonPlugin.class);

    private LanternNode() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: LanternNode <home>");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        if (!Files.isRegularFile(config.resolve("opensearch.yml"))) {
            System.err.println("missing " + config.resolve("opensearch.yml"));
            System.exit(2);
        }
        Settings base = Settings.builder().put("path.home", home.toString()).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
                base, Collections.emptyMap(), config, () -> "lantern-node");

        Node node = new ClasspathPluginNode(env, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        // OpenSearch threads are daemons: main blocks until SIGTERM closes the node cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "lantern-shutdown"));
        try {
            node.start();
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1);
        }
        stopped.await();
    }
}
