/**
 * SRTP keys swapped for KeyObjects (src/sfu/srtp-keys.ts): werift's own SRTP sessions encrypt and decrypt the same
 * bytes with either key form, under both profiles it offers; a real pair of werift peers on loopback gets its keys
 * swapped at the end of the handshake and still carries RTP; and shapes other than werift's are left alone.
 */
import assert from 'node:assert/strict';
import { KeyObject, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  MediaStreamTrack,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  SrtpSession,
} from 'werift';
import { installSrtpKeyObjects, srtpKeysSwapped, useKeyObjects } from '../../src/sfu/srtp-keys.ts';

function sessionPair(profile: number): [SrtpSession, SrtpSession] {
  const [keyA, saltA, keyB, saltB] = [randomBytes(16), randomBytes(12), randomBytes(16), randomBytes(12)];
  const sender = new SrtpSession({
    keys: { localMasterKey: keyA, localMasterSalt: saltA, remoteMasterKey: keyB, remoteMasterSalt: saltB },
    profile,
  });
  const receiver = new SrtpSession({
    keys: { localMasterKey: keyB, localMasterSalt: saltB, remoteMasterKey: keyA, remoteMasterSalt: saltA },
    profile,
  });
  return [sender, receiver];
}

function header(sequenceNumber: number): RtpHeader {
  return new RtpHeader({
    payloadType: 96,
    sequenceNumber,
    timestamp: sequenceNumber * 3000,
    ssrc: 0x1234_5678,
  });
}

const profiles = [
  ['AEAD_AES_128_GCM', ProtectionProfileAeadAes128Gcm],
  ['AES_CM_128_HMAC_SHA1_80', ProtectionProfileAes128CmHmacSha1_80],
] as const;

describe('SRTP keys as KeyObjects', () => {
  for (const [name, profile] of profiles) {
    test(`${name}: the same ciphertext and the same plaintext back after the swap`, () => {
      const [sender, receiver] = sessionPair(profile);
      const payload = randomBytes(1100);
      const before = sender.encrypt(payload, header(1));
      assert.equal(useKeyObjects({ srtp: sender }), profile === ProtectionProfileAeadAes128Gcm ? 4 : 8);
      assert.equal(useKeyObjects({ srtp: receiver }), profile === ProtectionProfileAeadAes128Gcm ? 4 : 8);
      const cipher = (sender.localContext as unknown as { cipher: Record<string, unknown> }).cipher;
      assert.ok(cipher['srtpSessionKey'] instanceof KeyObject);
      // The swapped sender encrypts packet 1 again to the same bytes; the swapped receiver decrypts both.
      const after = sender.encrypt(payload, header(1));
      assert.deepEqual(after, before);
      assert.deepEqual(receiver.decrypt(before).subarray(12), payload);
      const next = sender.encrypt(payload, header(2));
      assert.deepEqual(receiver.decrypt(next).subarray(12), payload);
      // A forged packet still fails authentication.
      const forged = Buffer.from(next);
      forged[20] = (forged[20] ?? 0) ^ 0xff;
      assert.throws(() => receiver.decrypt(forged));
    });
  }

  test('nothing is swapped in shapes that are not werift transports, and nothing throws', () => {
    const keys = {
      srtpSessionKey: 'not a buffer',
      srtcpSessionKey: Buffer.alloc(0),
      other: Buffer.alloc(16),
    };
    for (const shape of [
      undefined,
      null,
      42,
      {},
      { srtp: null, srtcp: 'x' },
      { srtp: { localContext: { cipher: null } } },
      { srtp: { localContext: { cipher: keys } } },
    ]) {
      assert.equal(useKeyObjects(shape), 0);
    }
    assert.equal(keys.srtpSessionKey, 'not a buffer');
    assert.ok(Buffer.isBuffer(keys.other));
  });

  test('two werift peers on loopback: keys swapped at the handshake, RTP still flows', async (t) => {
    installSrtpKeyObjects();
    const swappedBefore = srtpKeysSwapped();
    const offerer = new RTCPeerConnection();
    const answerer = new RTCPeerConnection();
    t.after(async () => {
      await offerer.close();
      await answerer.close();
    });
    const track = new MediaStreamTrack({ kind: 'audio' });
    offerer.addTransceiver(track, { direction: 'sendonly' });
    const received = new Promise<RtpPacket>((resolve) => {
      answerer.onTrack.subscribe((remote) => {
        remote.onReceiveRtp.once((packet) => {
          resolve(packet);
        });
      });
    });
    const connected = (pc: RTCPeerConnection): Promise<void> =>
      new Promise((resolve) => {
        pc.connectionStateChange.subscribe((state) => {
          if (state === 'connected') resolve();
        });
      });
    const bothConnected = Promise.all([connected(offerer), connected(answerer)]);
    await offerer.setLocalDescription(await offerer.createOffer());
    await answerer.setRemoteDescription(offerer.localDescription!);
    await answerer.setLocalDescription(await answerer.createAnswer());
    await offerer.setRemoteDescription(answerer.localDescription!);
    await bothConnected;
    // Each side swapped its SRTP and SRTCP keys, local and remote: at least 8 between the two.
    assert.ok(srtpKeysSwapped() - swappedBefore >= 8, `swapped ${srtpKeysSwapped() - swappedBefore}`);
    const payload = Buffer.from('opus-ish payload');
    let sequenceNumber = 0;
    const timer = setInterval(() => {
      sequenceNumber += 1;
      track.writeRtp(
        new RtpPacket(
          new RtpHeader({ payloadType: 111, sequenceNumber, timestamp: sequenceNumber * 960, marker: true }),
          payload,
        ),
      );
    }, 20);
    try {
      const packet = await received;
      assert.deepEqual(packet.payload, payload);
    } finally {
      clearInterval(timer);
    }
  });
});
