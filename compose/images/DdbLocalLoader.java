// Stand-in for LocalStack's ddb-local-loader-0.1.jar, the Java agent LocalStack passes to DynamoDB
// Local (-javaagent). LocalStack's own agent lifts DynamoDB Local's limit of 20 global secondary
// indexes per table; Cartwise's tables have far fewer, so the stand-in loads and does nothing.
public final class DdbLocalLoader {
    private DdbLocalLoader() {}

    public static void premain(String args, java.lang.instrument.Instrumentation instrumentation) {}
}
