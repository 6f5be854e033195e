/**
 * The codecs and RTP header extensions Nagare negotiates with browsers. Payload types are fixed so that every
 * peer of a channel uses the same numbers. H.264 is registered as `video/H264` (FACTS.md: Chromium sends
 * nothing for lower-case `h264`), Constrained Baseline, which is what Chromium's OpenH264 encoder produces.
 */
import {
  RTCRtpCodecParameters,
  useAbsSendTime,
  useFIR,
  useNACK,
  usePLI,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
} from 'werift';
import type { VideoCodecName } from '../rtp/keyframe.ts';

const videoFeedback = () => [useNACK(), usePLI(), useFIR(), useTWCC()];

export function opusCodec(): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
    payloadType: 111,
    parameters: 'minptime=10;useinbandfec=1',
    rtcpFeedback: [useTWCC()],
  });
}

export function videoCodec(name: VideoCodecName): RTCRtpCodecParameters {
  switch (name) {
    case 'H264':
      return new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: 90000,
        payloadType: 102,
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        rtcpFeedback: videoFeedback(),
      });
    case 'VP8':
      return new RTCRtpCodecParameters({
        mimeType: 'video/VP8',
        clockRate: 90000,
        payloadType: 96,
        rtcpFeedback: videoFeedback(),
      });
    case 'VP9':
      return new RTCRtpCodecParameters({
        mimeType: 'video/VP9',
        clockRate: 90000,
        payloadType: 98,
        parameters: 'profile-id=0',
        rtcpFeedback: videoFeedback(),
      });
  }
}

export const videoCodecNames: readonly VideoCodecName[] = ['H264', 'VP8', 'VP9'];

/** The codec name of a negotiated mime type, or undefined when Nagare does not forward it. */
export function videoCodecName(mimeType: string): VideoCodecName | undefined {
  const upper = mimeType.toUpperCase();
  return videoCodecNames.find((name) => upper === `VIDEO/${name}`);
}

export function peerCodecs(): { audio: RTCRtpCodecParameters[]; video: RTCRtpCodecParameters[] } {
  return { audio: [opusCodec()], video: videoCodecNames.map(videoCodec) };
}

export function peerHeaderExtensions() {
  return {
    audio: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
    video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
  };
}
