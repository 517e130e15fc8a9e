// Independent CMS implementation for the cross-check tests: Bouncy Castle (Debian
// libbcprov-java, libbcpkix-java), run as `java -cp <jars> CMSCheck.java MODE ...`.
//
//   compress   IN OUT                                  CompressedData (ZLIB), streamed
//   decompress IN OUT
//   protect    IN OUT SIGNER.crt SIGNER.key RECIP.crt des3|aes256 SHA1|SHA256|SHA512
//              sign, then compress, then encrypt (RFC 5024 section 6)
//   open       IN OUT RECIP.crt RECIP.key SIGNER.crt
//              decrypt, decompress, verify; exits 1 when the signature does not verify
//
// Several commands separated by "--" run in one JVM.
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.X509Certificate;
import java.util.Collection;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.*;
import org.bouncycastle.cms.jcajce.*;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

public class CMSCheck {
    static X509Certificate cert(String path) throws Exception {
        try (PEMParser p = new PEMParser(new FileReader(path))) {
            return new JcaX509CertificateConverter().setProvider("BC").getCertificate((X509CertificateHolder) p.readObject());
        }
    }

    static PrivateKey key(String path) throws Exception {
        try (PEMParser p = new PEMParser(new FileReader(path))) {
            return new JcaPEMKeyConverter().setProvider("BC").getPrivateKey((PrivateKeyInfo) p.readObject());
        }
    }

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        java.util.List<String> cmd = new java.util.ArrayList<>();
        for (String s : args) {
            if (s.equals("--")) {
                run(cmd.toArray(new String[0]));
                cmd.clear();
            } else {
                cmd.add(s);
            }
        }
        if (!cmd.isEmpty()) run(cmd.toArray(new String[0]));
    }

    static void run(String[] a) throws Exception {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(Paths.get(a[1])));
             OutputStream out = new BufferedOutputStream(Files.newOutputStream(Paths.get(a[2])))) {
            switch (a[0]) {
                case "compress": {
                    OutputStream c = new CMSCompressedDataStreamGenerator().open(out, new ZlibCompressor());
                    in.transferTo(c);
                    c.close();
                    break;
                }
                case "decompress": {
                    CMSCompressedDataParser p = new CMSCompressedDataParser(in);
                    p.getContent(new ZlibExpanderProvider()).getContentStream().transferTo(out);
                    break;
                }
                case "protect": {
                    X509Certificate signer = cert(a[3]);
                    PrivateKey signKey = key(a[4]);
                    X509Certificate recip = cert(a[5]);
                    CMSEnvelopedDataStreamGenerator eg = new CMSEnvelopedDataStreamGenerator();
                    eg.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(recip).setProvider("BC"));
                    OutputStream e = eg.open(out, new JceCMSContentEncryptorBuilder(
                        a[6].equals("des3") ? CMSAlgorithm.DES_EDE3_CBC : CMSAlgorithm.AES256_CBC).setProvider("BC").build());
                    OutputStream c = new CMSCompressedDataStreamGenerator().open(e, new ZlibCompressor());
                    CMSSignedDataStreamGenerator sg = new CMSSignedDataStreamGenerator();
                    sg.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(
                        new JcaDigestCalculatorProviderBuilder().setProvider("BC").build())
                        .build(new JcaContentSignerBuilder(a[7] + "withRSA").setProvider("BC").build(signKey), signer));
                    OutputStream s = sg.open(c, true);
                    in.transferTo(s);
                    s.close();
                    c.close();
                    e.close();
                    break;
                }
                case "open": {
                    X509Certificate recip = cert(a[3]);
                    PrivateKey recipKey = key(a[4]);
                    X509Certificate signer = cert(a[5]);
                    CMSEnvelopedDataParser ep = new CMSEnvelopedDataParser(in);
                    RecipientInformation ri = ep.getRecipientInfos().get(new JceKeyTransRecipientId(recip));
                    if (ri == null) throw new IllegalStateException("no recipient info for our certificate");
                    InputStream plain = ri.getContentStream(new JceKeyTransEnvelopedRecipient(recipKey).setProvider("BC")).getContentStream();
                    InputStream inflated = new CMSCompressedDataParser(plain).getContent(new ZlibExpanderProvider()).getContentStream();
                    CMSSignedDataParser sp = new CMSSignedDataParser(
                        new JcaDigestCalculatorProviderBuilder().setProvider("BC").build(), inflated);
                    sp.getSignedContent().getContentStream().transferTo(out);
                    Collection<SignerInformation> signers = sp.getSignerInfos().getSigners();
                    if (signers.isEmpty()) throw new IllegalStateException("no signers");
                    for (SignerInformation si : signers) {
                        if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer))) {
                            System.err.println("signature does not verify");
                            System.exit(1);
                        }
                    }
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown mode " + a[0]);
            }
        }
    }
}
