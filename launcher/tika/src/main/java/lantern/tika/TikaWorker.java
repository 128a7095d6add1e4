package lantern.tika;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import org.apache.tika.exception.EncryptedDocumentException;
import org.apache.tika.exception.TikaException;
import org.apache.tika.exception.ZeroByteFileException;
import org.apache.tika.io.TikaInputStream;
import org.apache.tika.metadata.Metadata;
import org.apache.tika.metadata.PagedText;
import org.apache.tika.metadata.TikaCoreProperties;
import org.apache.tika.parser.AutoDetectParser;
import org.apache.tika.parser.ParseContext;
import org.apache.tika.parser.Parser;
import org.apache.tika.parser.ocr.TesseractOCRConfig;
import org.apache.tika.parser.pdf.PDFParserConfig;
import org.xml.sax.Attributes;
import org.xml.sax.SAXException;
import org.xml.sax.helpers.DefaultHandler;

/**
 * One warm JVM that extracts text from many files with Apache Tika.
 *
 * <p>Protocol (UTF-8, one line each way per file): the Python side writes {@code id TAB path TAB
 * maxChars}; this process answers with one JSON object per line, in completion order, carrying the
 * same id: {@code {"id","ok":true,"content_type","pages":[...],"metadata":{...},"truncated"}} or
 * {@code {"id","ok":false,"error":"encrypted|corrupt|empty|missing|unsupported|internal","message"}}.
 * Stdout carries only answers; Tika's own logging goes to stderr.
 *
 * <p>PDF text is split per page from Tika's XHTML ({@code <div class="page">}); other formats have
 * no reliable page boundaries and come back as a single page. Tika's own OCR is switched off on
 * purpose: the Python side decides which pages lack a text layer and runs Tesseract itself, under
 * its own time limit and worker pool.
 */
public final class TikaWorker {

    private static final JsonFactory JSON = new JsonFactory();
    private static final AutoDetectParser PARSER = new AutoDetectParser();

    private TikaWorker() {}

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "tika-worker");
            t.setDaemon(true);
            return t;
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Writer out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        // Readiness line: the Python side waits for it so start-up cost is never billed to a file.
        synchronized (out) {
            out.write("{\"ready\":true,\"tika\":\"" + org.apache.tika.Tika.class.getPackage().getImplementationVersion() + "\"}\n");
            out.flush();
        }
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split("\t", 3);
            String id = parts[0];
            String path = parts.length > 1 ? parts[1] : "";
            long maxChars = parts.length > 2 ? Long.parseLong(parts[2].trim()) : 20_000_000L;
            pool.submit(() -> {
                String answer = extract(id, Paths.get(path), maxChars);
                synchronized (out) {
                    try {
                        out.write(answer);
                        out.write('\n');
                        out.flush();
                    } catch (java.io.IOException e) {
                        // The reader has gone; nothing left to serve.
                        System.exit(0);
                    }
                }
            });
        }
        // stdin closed: answer what was asked, then leave.
        pool.shutdown();
        pool.awaitTermination(1, java.util.concurrent.TimeUnit.HOURS);
        System.exit(0);
    }

    static String extract(String id, Path path, long maxChars) {
        PageHandler handler = new PageHandler(maxChars);
        Metadata metadata = new Metadata();
        try {
            ParseContext context = new ParseContext();
            // Embedded documents (e-mail attachments, objects in Office files) are parsed too.
            context.set(Parser.class, PARSER);
            PDFParserConfig pdf = new PDFParserConfig();
            pdf.setOcrStrategy(PDFParserConfig.OCR_STRATEGY.NO_OCR);
            pdf.setExtractInlineImages(false);
            context.set(PDFParserConfig.class, pdf);
            TesseractOCRConfig ocr = new TesseractOCRConfig();
            ocr.setSkipOcr(true);
            context.set(TesseractOCRConfig.class, ocr);
            try (InputStream stream = TikaInputStream.get(path, metadata)) {
                PARSER.parse(stream, handler, metadata, context);
            }
        } catch (Throwable e) {
            if (handler.truncated) {
                // The character limit stopped the parse: keep what was read, a huge document is
                // still searchable by its first part (flagged "truncated").
                return success(id, handler, metadata);
            }
            return failure(id, path, e);
        }
        return success(id, handler, metadata);
    }

    private static String failure(String id, Path path, Throwable thrown) {
        try {
            throw thrown;
        } catch (NoSuchFileException e) {
            return error(id, "missing", "no such file: " + path);
        } catch (EncryptedDocumentException e) {
            return error(id, "encrypted", "the file is encrypted or password-protected");
        } catch (ZeroByteFileException e) {
            return error(id, "empty", "the file is empty");
        } catch (TikaException e) {
            Throwable root = rootCause(e);
            if (root instanceof org.apache.poi.EncryptedDocumentException
                    || root instanceof org.apache.pdfbox.pdmodel.encryption.InvalidPasswordException) {
                return error(id, "encrypted", "the file is encrypted or password-protected");
            }
            return error(id, "corrupt", "the file could not be parsed: " + message(root));
        } catch (Throwable e) {
            Throwable root = rootCause(e);
            if (root instanceof org.apache.pdfbox.pdmodel.encryption.InvalidPasswordException
                    || root instanceof EncryptedDocumentException) {
                return error(id, "encrypted", "the file is encrypted or password-protected");
            }
            return error(id, "corrupt", "the file could not be parsed: " + message(root));
        }
    }

    private static Throwable rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            if (t instanceof org.apache.pdfbox.pdmodel.encryption.InvalidPasswordException
                    || t instanceof org.apache.poi.EncryptedDocumentException
                    || t instanceof EncryptedDocumentException) {
                return t;
            }
            t = t.getCause();
        }
        return t;
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static String success(String id, PageHandler handler, Metadata metadata) {
        StringWriter sw = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(sw)) {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeBooleanField("ok", true);
            g.writeStringField("content_type", metadata.get(Metadata.CONTENT_TYPE));
            g.writeBooleanField("truncated", handler.truncated);
            g.writeArrayFieldStart("pages");
            for (StringBuilder page : handler.pages()) {
                g.writeString(page.toString());
            }
            g.writeEndArray();
            g.writeObjectFieldStart("metadata");
            writeIfPresent(g, "title", metadata.get(TikaCoreProperties.TITLE));
            writeIfPresent(g, "author", metadata.get(TikaCoreProperties.CREATOR));
            writeIfPresent(g, "created", metadata.get(TikaCoreProperties.CREATED));
            writeIfPresent(g, "page_count", metadata.get(PagedText.N_PAGES));
            writeIfPresent(g, "subject", metadata.get(TikaCoreProperties.SUBJECT));
            g.writeEndObject();
            g.writeEndObject();
        } catch (java.io.IOException e) {
            return error(id, "internal", message(e));
        }
        return sw.toString();
    }

    private static void writeIfPresent(JsonGenerator g, String name, String value) throws java.io.IOException {
        if (value != null) {
            g.writeStringField(name, value);
        }
    }

    private static String error(String id, String code, String text) {
        StringWriter sw = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(sw)) {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeBooleanField("ok", false);
            g.writeStringField("error", code);
            g.writeStringField("message", text);
            g.writeEndObject();
        } catch (java.io.IOException e) {
            return "{\"id\":\"" + id + "\",\"ok\":false,\"error\":\"internal\",\"message\":\"json\"}";
        }
        return sw.toString();
    }

    /** Thrown (inside a SAXException) when a document's text passes the character limit. */
    static final class LimitReached extends SAXException {
        LimitReached() {
            super("character limit reached");
        }
    }

    /**
     * Collects Tika's XHTML events as plain text, one buffer per {@code <div class="page">}.
     * Text outside any page div (a non-paged format, or an attachment after the last PDF page)
     * goes to the current page, so nothing is lost.
     */
    static final class PageHandler extends DefaultHandler {
        private final List<StringBuilder> pages = new ArrayList<>();
        private final long maxChars;
        private long total;
        private int depth;
        private int pageDepth = -1;
        private boolean sawPageDiv;
        private boolean inHead;
        boolean truncated;

        PageHandler(long maxChars) {
            this.maxChars = maxChars;
            pages.add(new StringBuilder());
        }

        List<StringBuilder> pages() {
            return pages;
        }

        private StringBuilder current() {
            return pages.get(pages.size() - 1);
        }

        @Override
        public void startElement(String uri, String local, String qName, Attributes atts) {
            depth++;
            if ("head".equals(local)) {
                inHead = true;
            }
            if ("div".equals(local) && pageDepth < 0 && "page".equals(atts.getValue("class"))) {
                if (sawPageDiv || !current().toString().isBlank()) {
                    pages.add(new StringBuilder());
                } else {
                    current().setLength(0);  // only the whitespace Tika writes before page one
                }
                sawPageDiv = true;
                pageDepth = depth;
            }
        }

        @Override
        public void endElement(String uri, String local, String qName) {
            if (depth == pageDepth) {
                pageDepth = -1;
            }
            depth--;
            if ("head".equals(local)) {
                inHead = false;
                return;
            }
            if (inHead) {
                return;
            }
            switch (local) {
                case "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "td" -> {
                    StringBuilder page = current();
                    if (page.length() > 0 && page.charAt(page.length() - 1) != '\n') {
                        page.append(local.equals("td") ? '\t' : '\n');
                    }
                }
                default -> {
                }
            }
        }

        @Override
        public void characters(char[] ch, int start, int length) throws SAXException {
            append(ch, start, length);
        }

        @Override
        public void ignorableWhitespace(char[] ch, int start, int length) throws SAXException {
            append(ch, start, length);
        }

        private void append(char[] ch, int start, int length) throws SAXException {
            if (inHead) {
                return;
            }
            if (total + length > maxChars) {
                int room = (int) Math.max(0, maxChars - total);
                current().append(ch, start, room);
                total += room;
                truncated = true;
                throw new LimitReached();
            }
            current().append(ch, start, length);
            total += length;
        }
    }
}
